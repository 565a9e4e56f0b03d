"""Executors run a grid's runs: in this process, in a local process pool, or on Ray.

    from bench.executors import make_executor, run_grid
    summary = run_grid(resolved_grid, store_root="runs", executor=make_executor("local"))

Every executor calls `bench.executors.run_task.execute_run`, which owns the run store
protocol, so resume behaves the same everywhere.
"""

from bench.executors.grid_runner import GridRunSummary, make_executor, pending_tasks, run_grid
from bench.executors.local import SequentialExecutor
from bench.executors.pool import LocalPoolExecutor
from bench.executors.ray_executor import RayExecutor
from bench.executors.run_task import RunOutcome, RunTask, execute_run

__all__ = [
    "GridRunSummary", "LocalPoolExecutor", "RayExecutor", "RunOutcome", "RunTask", "SequentialExecutor",
    "execute_run", "make_executor", "pending_tasks", "run_grid",
]
