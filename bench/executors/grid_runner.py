"""Run a resolved grid: skip what is finished, hand the rest to an executor, summarise."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from bench.executors.local import SequentialExecutor
from bench.executors.pool import LocalPoolExecutor
from bench.executors.progress import GridProgress
from bench.executors.ray_executor import RayExecutor
from bench.executors.run_task import RunOutcome, RunTask, stale_metrics
from bench.grid.resolve import ResolvedGrid
from bench.run_store import DONE, RunStore

EXECUTORS = ("local", "process", "ray")


def make_executor(name: str = "local", jobs: int = 1, address: str | None = None,
                  num_cpus: float = 1.0, num_gpus: float = 0.0) -> Any:
    """An executor by name.

    Args:
        name: "local" (sequential; a process pool when jobs > 1), "process" (a process pool
            of `jobs` workers) or "ray".
        jobs: parallel runs for the local executors.
        address: Ray cluster address (ray only); None = a local Ray instance.
        num_cpus / num_gpus: Ray resource hints per run.

    Raises:
        ValueError: unknown name, bad jobs, or --address without ray.
    """
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if address is not None and name != "ray":
        raise ValueError(f"--address {address!r} applies to --executor ray only")
    if name == "ray":
        return RayExecutor(address=address, num_cpus=num_cpus, num_gpus=num_gpus)
    if name == "process" or jobs > 1:
        return LocalPoolExecutor(jobs)
    return SequentialExecutor()


def run_label(run: Any) -> str:
    return f"{run.row_name} · {run.prompt.id} · seed {run.seed} · {run.length.name}"


def _finished(store: RunStore, run: Any) -> bool:
    status = store.status(run.key)
    return status.state == DONE and not stale_metrics(run, status)


def pending_tasks(grid: ResolvedGrid, store: RunStore, executor: str = "local") -> tuple[list[RunTask], int]:
    """(tasks still to do — each distinct run key once —, number already finished)."""
    tasks, seen, finished = [], set(), 0
    for run in grid.runs:
        if run.key in seen:
            continue
        seen.add(run.key)
        if _finished(store, run):
            finished += 1
        else:
            tasks.append(RunTask(config=run, store_root=str(store.root.resolve()), executor=executor))
    return tasks, finished


@dataclass
class GridRunSummary:
    """What a `run_grid` call did."""

    grid: str
    total: int
    already_done: int
    outcomes: list[RunOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(outcome.action for outcome in self.outcomes)
        counts["already done"] = self.already_done
        return dict(counts)

    @property
    def failed(self) -> list[RunOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]


def run_grid(grid: ResolvedGrid, store_root: str | None = None, executor: Any = None,
             progress: bool = True, console: Console | None = None) -> GridRunSummary:
    """Run every unfinished run of `grid` and return a summary.

    Args:
        grid: a grid from `bench.grid.load_and_resolve` (validated: nothing has started yet).
        store_root: the run store folder; default the grid's `store:` (relative to the cwd).
        executor: from `make_executor`; default sequential in this process.
        progress: draw rich progress bars (overall and per run) on stderr.
        console: where to draw them.
    """
    started = time.time()
    store = RunStore(store_root or grid.spec.store)
    executor = executor or SequentialExecutor()
    tasks, already_done = pending_tasks(grid, store, executor.name)
    labels = {task.config.key: run_label(task.config) for task in tasks}
    distinct = len({run.key for run in grid.runs})
    summary = GridRunSummary(grid=grid.name, total=distinct, already_done=already_done)
    with GridProgress(labels, console=console, enabled=progress) as bars:
        bars.progress.update(bars.overall, total=distinct)
        bars.skip(already_done)
        summary.outcomes = executor.run(tasks, on_progress=bars.event, on_finished=bars.finished)
    summary.seconds = time.time() - started
    return summary
