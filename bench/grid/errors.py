"""Errors raised while reading, overriding, validating or resolving a grid.

They subclass ValueError / FileNotFoundError so the CLI prints them without a traceback.
Every message names the grid file, the key (as a dotted path such as `rows[2].schedule`),
the bad value and what was expected.
"""

from __future__ import annotations


class GridError(ValueError):
    """A grid file or an override is malformed, or names something that does not exist."""

    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        self.key = key
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {message}")

    def with_source(self, source: str | None) -> GridError:
        """The same error, naming the grid file (if it did not already)."""
        if self.source or not source:
            return self
        return GridError(self.key, self.message, source)


class MissingCheckpointError(FileNotFoundError):
    """A row's checkpoint file is not on disk."""

    def __init__(self, key: str, path: str, hint: str = "", source: str | None = None) -> None:
        self.key = key
        self.path = path
        where = f"{source}: " if source else ""
        extra = f"; {hint}" if hint else ""
        super().__init__(f"{where}{key}: checkpoint {path!r} does not exist{extra}")
