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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic_files import atomic_write_text
from bench.demo import DemoResult, run_demo
from bench.executors.provenance import git_revision, machine
from bench.grid import ResolvedGrid, load_and_resolve
from bench.run_store import RunStore

STUDY_GRIDS = ("grids/paper-table1.yaml", "grids/paper-table2.yaml")


@dataclass
class StudyResult:
    """What `run_study` produced: one `DemoResult` per grid, the comparisons and the record path."""

    tables: list[DemoResult]
    comparisons: list[Path]
    record: Path
    seconds: float


def write_code_record(grid: ResolvedGrid, store: RunStore, path: Path) -> dict[str, Any]:
    """How a table's runs were made, from each run's provenance.json: the code revisions (and
    how many runs each made), runs made from a tree with uncommitted changes, package versions."""
    revisions: Counter[str] = Counter()
    dirty, packages = 0, {}
    for key in dict.fromkeys(run.key for run in grid.runs):
        file = store.path(key, "provenance.json")
        if not file.is_file():
            continue
        record = json.loads(file.read_text())
        git = record.get("git") or {}
        revisions[str(git.get("revision"))] += 1
        dirty += bool(git.get("dirty"))
        packages = record.get("packages") or packages
    code = {"grid": grid.name, "runs": sum(revisions.values()), "revisions": dict(revisions.most_common()),
            "runs_from_uncommitted_changes": dirty, "packages": packages}
    atomic_write_text(path, json.dumps(code, indent=2) + "\n")
    return code


def run_study(grids: tuple[str, ...] | list[str] = STUDY_GRIDS, overrides: tuple[str, ...] | list[str] = (),
              executor: Any = None, store_root: str | None = None, results_root: str | Path = "results",
              progress: bool = True, rating: bool = True, jobs: int = 1, skip_missing: bool = False) -> StudyResult:
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
        skip_missing: leave out rows whose checkpoint is missing (each `DemoResult.grid.skipped_rows`).
    """
    from bench.analysis.study_comparisons import write_comparisons

    for grid_path in grids:  # every grid valid before any work
        load_and_resolve(grid_path, overrides, skip_missing=skip_missing)
    started = time.time()
    tables, comparisons, timings = [], [], {}
    for grid_path in grids:
        table_started = time.time()
        result = run_demo(grid_path, overrides, executor=executor, store_root=store_root, results_root=results_root,
                          progress=progress, rating=rating, skip_missing=skip_missing)
        out_dir = result.tables["paths"]["md"].parent
        comparisons.append(write_comparisons(out_dir))
        write_code_record(result.grid, RunStore(store_root or result.grid.spec.store), out_dir / "provenance.json")
        tables.append(result)
        timings[result.grid.name] = {
            "grid": str(grid_path),
            "seconds": round(time.time() - table_started, 1),
            "runs": len(result.grid.runs),
            "failed": len(result.summary.failed),
            "skipped_rows": sorted(result.grid.skipped_rows),
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
