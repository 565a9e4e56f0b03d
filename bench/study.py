"""The lab study: both paper tables end to end (`fpbench study`, `make study`).

Runs grids/paper-table1.yaml (FramePack schedules, sampling orders, frames per section, tails, +D)
and grids/paper-table2.yaml (the alternative architectures) with the committed lab checkpoints,
each through the demo's pipeline (`bench.demo.run_demo`: runs, tables, SIMULATED-judge ELO-K32,
figures), then the paired comparisons of the paper's questions (`bench.analysis.study_comparisons`)
beside each table, and results/study.json with the wall time and the code revision. Both grids are
validated before any work; runs resume from the run store, and rows both tables share (inverted
anti-drifting, vanilla+D, the references) are generated once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic_files import atomic_write_text
from bench.demo import DemoResult, run_demo
from bench.executors.provenance import git_revision, machine
from bench.grid import load_and_resolve

STUDY_GRIDS = ("grids/paper-table1.yaml", "grids/paper-table2.yaml")


@dataclass
class StudyResult:
    """What `run_study` produced: one `DemoResult` per grid, the comparisons and the record path."""

    tables: list[DemoResult]
    comparisons: list[Path]
    record: Path
    seconds: float


def run_study(grids: tuple[str, ...] | list[str] = STUDY_GRIDS, overrides: tuple[str, ...] | list[str] = (),
              executor: Any = None, store_root: str | None = None, results_root: str | Path = "results",
              progress: bool = True, rating: bool = True, jobs: int = 1) -> StudyResult:
    """Run every grid of the study and write its results under results_root/<grid>/.

    Args:
        grids: grid files (default both paper tables).
        overrides: `--set key=value` strings applied to every grid.
        executor: from `bench.executors.make_executor` (default sequential).
        store_root: run store (default each grid's `store:`).
        results_root: results_root/<grid>/ gets each table; results_root/study.json the record.
        progress: draw progress bars.
        rating: run the SIMULATED-judge rating rounds.
        jobs: parallel runs of `executor`, recorded in study.json.
    """
    from bench.analysis.study_comparisons import write_comparisons

    for grid_path in grids:  # every grid valid before any work
        load_and_resolve(grid_path, overrides)
    started = time.time()
    tables, comparisons, timings = [], [], {}
    for grid_path in grids:
        table_started = time.time()
        result = run_demo(grid_path, overrides, executor=executor, store_root=store_root, results_root=results_root,
                          progress=progress, rating=rating)
        out_dir = result.tables["paths"]["md"].parent
        comparisons.append(write_comparisons(out_dir))
        tables.append(result)
        timings[result.grid.name] = {
            "grid": str(grid_path),
            "seconds": round(time.time() - table_started, 1),
            "runs": len(result.grid.runs),
            "failed": len(result.summary.failed),
        }
    seconds = time.time() - started
    record = Path(results_root) / "study.json"
    atomic_write_text(record, json.dumps({
        "command": "fpbench study",
        "grids": timings,
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "overrides": list(overrides),
        "git": git_revision(),
        "machine": {key: value for key, value in machine().items() if key != "pid"},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2) + "\n")
    return StudyResult(tables=tables, comparisons=comparisons, record=record, seconds=seconds)
