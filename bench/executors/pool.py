"""Run a grid's runs in a local pool of worker processes.

A worker that dies (the OOM killer, a user's `kill`) loses only the runs in flight in the
pool: the pool is replaced and those runs are redone from scratch (their folders have no
status, so they count as pending). A run whose worker dies `MAX_WORKER_DEATHS` times is
recorded as failed instead of being retried forever.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bench.executors.run_task import ProgressFn, RunOutcome, RunTask, execute_run

MAX_WORKER_DEATHS = 3

_EVENTS: Any = None


def _init_worker(events: Any, threads: int) -> None:
    global _EVENTS
    _EVENTS = events
    # Read by torch / OpenMP when they load, so importing torch here (slow) is not needed.
    # Each run then sets its own thread count (RunConfig.threads), as in every executor.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _relay(key: str, kind: str, done: int, total: int | None) -> None:
    if _EVENTS is not None:
        _EVENTS.put((key, kind, done, total))


def _pool_execute(task: RunTask) -> RunOutcome:
    return execute_run(task, _relay)


class LocalPoolExecutor:
    """`jobs` worker processes (spawned, so nothing unsafe is inherited from the parent).

    At most `jobs` runs are handed to the pool at a time, so the runs lost with a dead worker
    are exactly the runs in flight. Progress events come back through a queue.
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
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        todo = deque(tasks)
        deaths: Counter[str] = Counter()
        outcomes: list[RunOutcome] = []

        def finish(outcome: RunOutcome) -> None:
            outcomes.append(outcome)
            if on_finished is not None:
                on_finished(outcome)

        while todo:
            lost = self._run_pool(todo, context, events, threads, on_progress, finish)
            for task in lost:
                deaths[task.config.key] += 1
                if deaths[task.config.key] >= MAX_WORKER_DEATHS:
                    finish(RunOutcome(task.config.key, task.config.row_name, "failed", 0.0,
                                      f"the worker process running it died {MAX_WORKER_DEATHS} times "
                                      "(killed, or out of memory)"))
                else:
                    todo.appendleft(task)
        self._drain(events, on_progress)
        return outcomes

    def _run_pool(self, todo: deque[RunTask], context: Any, events: Any, threads: int,
                  on_progress: ProgressFn | None, finish: Callable[[RunOutcome], None]) -> list[RunTask]:
        """Run tasks from `todo` in one pool until none is left (returns []) or a worker dies
        (returns the tasks that were in flight: they are lost with the pool)."""
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(todo)), mp_context=context,
                                 initializer=_init_worker, initargs=(events, threads)) as pool:
            running: dict[Future, RunTask] = {}
            try:
                while todo or running:
                    while todo and len(running) < self.jobs:
                        task = todo.popleft()
                        try:
                            running[pool.submit(_pool_execute, task)] = task
                        except BrokenProcessPool:
                            return [task, *running.values()]
                    finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                    self._drain(events, on_progress)
                    lost = []
                    for future in finished:
                        task = running.pop(future)
                        try:
                            finish(future.result())
                        except BrokenProcessPool:
                            lost.append(task)
                    if lost:  # every run still in this pool is lost with it
                        return [*lost, *running.values()]
            except BaseException:
                for future in running:
                    future.cancel()
                raise
        return []

    @staticmethod
    def _drain(events: Any, on_progress: ProgressFn | None) -> None:
        while True:
            try:
                event = events.get_nowait()
            except queue.Empty:
                return
            if on_progress is not None:
                on_progress(*event)
