"""Run a grid's runs one after another in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.executors.run_task import ProgressFn, RunOutcome, RunTask, execute_run


class SequentialExecutor:
    """The default: no processes, no surprises; a crash of the process loses only the run
    in progress (its folder has no status and is redone next time)."""

    name = "local"

    def run(self, tasks: Sequence[RunTask], on_progress: ProgressFn | None = None,
            on_finished: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
        outcomes = []
        for task in tasks:
            outcome = execute_run(task, on_progress)
            outcomes.append(outcome)
            if on_finished is not None:
                on_finished(outcome)
        return outcomes
