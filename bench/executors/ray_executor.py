"""Run a grid's runs as Ray tasks, on a local Ray instance or a cluster (`--address`).

Each run is one task with the grid's resource hints (`resources: {num_cpus, num_gpus}`).
Workers write into the same run store, so the store must be on a filesystem every node
sees (a shared disk at cluster scale); a finished run is never redone, whichever node ran it.
A run whose worker dies is retried by Ray (up to `MAX_WORKER_DEATHS` attempts in all, as in
the process pool), then recorded as failed; the grid goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.executors.pool import MAX_WORKER_DEATHS
from bench.executors.run_task import ProgressFn, RunOutcome, RunTask, execute_run

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def _ray_execute(task: RunTask, events: Any = None) -> RunOutcome:
    def relay(key: str, kind: str, done: int, total: int | None) -> None:
        if events is not None and kind in ("start", "section", "end"):
            events.put_nowait((key, kind, done, total))

    return execute_run(task, relay)


class RayExecutor:
    """Ray tasks with resource hints.

    Args:
        address: a Ray cluster address ("auto", "ray://host:10001", ...); None starts or
            joins a local instance. If Ray is already initialised in this process, it is used as is.
        num_cpus / num_gpus: resources each run asks for.
        progress_queue: relay per-run progress through a Ray queue actor (sections only).
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 progress_queue: bool = True) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.progress_queue = progress_queue

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ValueError("--executor ray needs Ray: pip install 'framepack-bench[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}})
        return ray

    def run(self, tasks: Sequence[RunTask], on_progress: ProgressFn | None = None,
            on_finished: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
        if not tasks:
            return []
        ray = self._connect()
        events = None
        if self.progress_queue and on_progress is not None:
            from ray.util.queue import Queue

            events = Queue(actor_options={"num_cpus": 0})
        remote = ray.remote(_ray_execute).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=MAX_WORKER_DEATHS - 1,
            runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}},
        )
        task_of = {remote.remote(task, events): task for task in tasks}
        pending = list(task_of)
        outcomes: list[RunOutcome] = []
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
                self._drain(events, on_progress)
                for ref in ready:
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as error:  # its worker died on every attempt
                        task = task_of[ref].config
                        outcome = RunOutcome(task.key, task.row_name, "failed", 0.0,
                                             f"the Ray worker running it died ({type(error).__name__})")
                    outcomes.append(outcome)
                    if on_finished is not None:
                        on_finished(outcome)
            self._drain(events, on_progress)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if events is not None:
                events.shutdown()
        return outcomes

    @staticmethod
    def _drain(events: Any, on_progress: ProgressFn | None) -> None:
        if events is None or on_progress is None:
            return
        while not events.empty():
            try:
                event = events.get_nowait()
            except Exception:  # the queue's own Empty type
                return
            on_progress(*event)


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (PROJECT_ROOT, existing) if p)
