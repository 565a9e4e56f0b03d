"""Progress of a grid: an overall bar (runs) and one bar per active run (sections, steps)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class GridProgress:
    """Rich progress bars for a grid; also a plain line per finished run (useful in logs).

    Args:
        labels: run key -> short label (row name, prompt, seed).
        console: where to draw (default: stderr).
        enabled: False draws nothing at all (tests, quiet mode).
    """

    def __init__(self, labels: dict[str, str], console: Console | None = None, enabled: bool = True) -> None:
        self.labels = labels
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=self.console, disable=not enabled, transient=False,
        )
        self.overall: TaskID | None = None
        self.active: dict[str, TaskID] = {}

    def __enter__(self) -> GridProgress:
        self.progress.__enter__()
        self.overall = self.progress.add_task("runs", total=len(self.labels), detail="")
        return self

    def __exit__(self, *exc: Any) -> None:
        for task in self.active.values():
            self.progress.remove_task(task)
        self.active.clear()
        self.progress.__exit__(*exc)

    def skip(self, count: int) -> None:
        """Count runs that were already finished."""
        if self.overall is not None:
            self.progress.advance(self.overall, count)
            self.progress.update(self.overall, detail=f"{count} already done")

    def event(self, key: str, kind: str, done: int, total: int | None) -> None:
        """A progress event from a run (see bench.executors.run_task.ProgressFn)."""
        if not self.enabled:
            return
        if kind == "start":
            if key in self.active:  # a run redone after its worker died
                self.progress.remove_task(self.active.pop(key))
            self.active[key] = self.progress.add_task(f"  {escape(self.labels.get(key, key))}", total=total, detail="")
            return
        task = self.active.get(key)
        if task is None:
            return
        if kind == "section":
            self.progress.update(task, completed=done, total=total, detail="")
        elif kind == "step":
            self.progress.update(task, detail=f"step {done}/{total}")
        elif kind == "metric":
            self.progress.update(task, detail=f"metrics {done}/{total}")
        elif kind == "end":
            self.progress.remove_task(self.active.pop(key))

    def finished(self, outcome: Any) -> None:
        """A run finished (generated, rescored or failed)."""
        if self.overall is not None:
            self.progress.advance(self.overall)
        if outcome.key in self.active:
            self.progress.remove_task(self.active.pop(outcome.key))
        if self.enabled:
            label = self.labels.get(outcome.key, outcome.key)
            if outcome.ok:
                self.console.print(f"[green]{outcome.action}[/] {escape(label)}  ({outcome.seconds:.1f} s)")
            else:
                self.console.print(f"[red]failed[/] {escape(label)}: {escape(str(outcome.error))}")
