"""Atomic file writes for everything bench/ saves: readers see the old file or the whole new one.

Content goes to a temporary file in the target's folder, is flushed and fsynced, then renamed
over the target (os.replace is atomic on one filesystem). A failed write leaves no temporary behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

# mkstemp creates 0600 files; give written files the usual permissions under the umask.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call `write(stream)` on a temporary binary file, then rename it over `path` (folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write` for text (UTF-8)."""
    return atomic_write(path, lambda stream: stream.write(text.encode()))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> Path:
    """`atomic_write` for JSON (values JSON cannot hold are written with `str`)."""
    return atomic_write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def atomic_write_parquet(path: str | os.PathLike, frame: pd.DataFrame, **options: Any) -> Path:
    """`atomic_write` for a DataFrame as parquet (no index column); `options` go to pyarrow's writer
    (compression, encodings)."""
    return atomic_write(path, lambda stream: frame.to_parquet(stream, index=False, **options))
