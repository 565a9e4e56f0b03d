"""Run a grid's runs in a local pool of worker processes."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from bench.executors.run_task import ProgressFn, RunOutcome, RunTask, execute_run
from bench.executors.threads import threads_per_worker, use_threads

_EVENTS: Any = None


def _init_worker(events: Any, threads: int) -> None:
    global _EVENTS
    _EVENTS = events
    use_threads(threads)  # set before torch loads in the worker, so importing it here is not needed


def _relay(key: str, kind: str, done: int, total: int | None) -> None:
    if _EVENTS is not None:
        _EVENTS.put((key, kind, done, total))


def _pool_execute(task: RunTask) -> RunOutcome:
    return execute_run(task, _relay)


class LocalPoolExecutor:
    """`jobs` worker processes (spawned, so nothing unsafe is inherited from the parent).

    Each worker gets cpu_count // jobs torch threads (at least 1) so the pool does not
    oversubscribe the machine. Progress events come back through a queue.
    """

    name = "process"

    def __init__(self, jobs: int = 2) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def run(self, tasks: Sequence[RunTask], on_progress: ProgressFn | None = None,
            on_finished: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
        if not tasks:
            return []
        context = multiprocessing.get_context("spawn")
        events = context.Queue()
        threads = threads_per_worker(self.jobs)
        outcomes: list[RunOutcome] = []
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=context,
                                 initializer=_init_worker, initargs=(events, threads)) as pool:
            pending: set[Future] = {pool.submit(_pool_execute, task) for task in tasks}
            try:
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    self._drain(events, on_progress)
                    for future in finished:
                        outcome = future.result()
                        outcomes.append(outcome)
                        if on_finished is not None:
                            on_finished(outcome)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            self._drain(events, on_progress)
        return outcomes

    @staticmethod
    def _drain(events: Any, on_progress: ProgressFn | None) -> None:
        while True:
            try:
                event = events.get_nowait()
            except queue.Empty:
                return
            if on_progress is not None:
                on_progress(*event)
