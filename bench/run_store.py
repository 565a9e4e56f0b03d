"""The run store: one folder per run, keyed by the hash of its resolved config.

A run folder holds::

    config.yaml        the resolved config (what was asked)
    video.mp4          the video (H.264), for viewing and A/B votes
    frames.npz         the exact frames (lossless; optional), so a rescore sees what was measured
    metrics.parquet    tidy metric values (per frame / pair / window, and the video score)
    provenance.json    git revision, package versions, seed, machine, timings
    traceback.txt      only for a failed run
    status.json        written LAST, by atomic rename: {"state": "done" | "failed", "files": {...}, ...}

A done status lists every other file of the run with its SHA-256 (`files`). A run counts as
done only while that holds: a folder without status.json (e.g. killed half-way), a status that
cannot be read (bad UTF-8, not JSON, not an object) or a listed file that is missing, unreadable
or changed makes the run pending, and it is wiped and redone from scratch — never read. The
grid index is derived from the folders, never kept separately, so it cannot disagree with them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.atomic_files import atomic_write, atomic_write_text
from bench.video_io import read_video, write_video

STATUS_FILE = "status.json"
CONFIG_FILE = "config.yaml"
VIDEO_FILE = "video.mp4"
FRAMES_FILE = "frames.npz"
METRICS_FILE = "metrics.parquet"
PROVENANCE_FILE = "provenance.json"
TRACEBACK_FILE = "traceback.txt"
LOCK_FILE = ".lock"

DONE = "done"
FAILED = "failed"
PENDING = "pending"


@dataclass(frozen=True)
class RunStatus:
    """A run's state as recorded in its folder."""

    key: str
    state: str  # done | failed | pending
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state == DONE


class RunStore:
    """Run folders under `root` (created on first write).

    Args:
        root: the store's folder; many grids may share one store (identical runs are reused).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"the run store {str(self.root)!r} is a file, not a folder; "
                             "pass --store a folder (it is created if missing)")

    def run_dir(self, key: str) -> Path:
        """The folder of run `key` (not necessarily existing)."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid run key {key!r}")
        return self.root / key

    def path(self, key: str, name: str) -> Path:
        return self.run_dir(key) / name

    # ------------------------------------------------------------------ reading

    def status(self, key: str) -> RunStatus:
        """done / failed from status.json. Pending when there is none, when it cannot be read,
        or when it says done but a file it lists is missing, unreadable or changed (the
        reason is in `info["damaged"]`)."""
        try:
            info = json.loads(self.path(key, STATUS_FILE).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return RunStatus(key, PENDING)
        if not isinstance(info, dict) or info.get("state") not in (DONE, FAILED):
            return RunStatus(key, PENDING)
        if info["state"] == DONE:
            damage = self.damage(key, info.get("files"))
            if damage:
                return RunStatus(key, PENDING, {"damaged": damage})
        return RunStatus(key, info["state"], info)

    def damage(self, key: str, files: Any) -> str:
        """Why the files listed in a done status do not match the folder ("" when they do)."""
        if not isinstance(files, dict) or not {CONFIG_FILE, METRICS_FILE} <= set(files):
            return "the status lists no checksums of the run's files"
        for name, expected in files.items():
            if not isinstance(name, str) or "/" in name or name in (STATUS_FILE, LOCK_FILE):
                return f"the status lists an invalid file name {name!r}"
            try:
                actual = sha256_of(self.path(key, name))
            except OSError as error:
                return f"{name} cannot be read ({type(error).__name__})"
            if actual != expected:
                return f"{name} does not match its checksum"
        return ""

    def statuses(self, keys: Iterable[str]) -> pd.DataFrame:
        """The index of `keys`: one row per key with its state (derived from the folders)."""
        rows = []
        for key in keys:
            status = self.status(key)
            rows.append({"key": key, "state": status.state,
                         "error": status.info.get("error") or status.info.get("damaged")})
        return pd.DataFrame(rows, columns=["key", "state", "error"])

    def keys(self) -> list[str]:
        """Every run folder in the store (finished or not)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def read_config(self, key: str) -> dict[str, Any]:
        return yaml.safe_load(self.path(key, CONFIG_FILE).read_text())

    def read_metrics(self, key: str) -> pd.DataFrame:
        """The run's tidy metric values (only meaningful once the run is done)."""
        return pd.read_parquet(self.path(key, METRICS_FILE))

    def read_exact_frames(self, key: str) -> np.ndarray:
        """The run's exact frames from frames.npz (FileNotFoundError when the run kept none)."""
        with np.load(self.path(key, FRAMES_FILE)) as data:
            return data["frames"]

    def read_frames(self, key: str) -> np.ndarray:
        """Frames to look at (figures): the exact ones, else decoded from the lossy video.mp4.
        Never for measuring: rescoring uses `read_exact_frames`."""
        if self.path(key, FRAMES_FILE).is_file():
            return self.read_exact_frames(key)
        return read_video(self.path(key, VIDEO_FILE))

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold an exclusive lock on run `key` (an OS lock: released if the process dies)."""
        directory = self.run_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def reset(self, key: str) -> Path:
        """Wipe whatever an unfinished or failed attempt left behind (keeping the lock file)."""
        directory = self.run_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        for entry in directory.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return directory

    def write_config(self, key: str, config: dict[str, Any]) -> None:
        atomic_write_text(self.path(key, CONFIG_FILE), yaml.safe_dump(config, sort_keys=False))

    def write_json(self, key: str, name: str, data: dict[str, Any]) -> None:
        atomic_write_text(self.path(key, name), json.dumps(data, indent=2, sort_keys=True, default=str))

    def write_frames(self, key: str, frames: np.ndarray) -> None:
        atomic_write(self.path(key, FRAMES_FILE), lambda stream: np.savez_compressed(stream, frames=frames))

    def write_video(self, key: str, frames: np.ndarray, fps: int) -> None:
        """video.mp4 at CRF 12 (a pure function of the frames; see bench.video_io)."""
        target = self.path(key, VIDEO_FILE)
        temporary = target.with_name(f".{target.name}.tmp.mp4")
        write_video(temporary, frames, fps, crf=12)
        os.replace(temporary, target)

    def write_metrics(self, key: str, values: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        values.to_parquet(buffer, index=False)
        atomic_write(self.path(key, METRICS_FILE), lambda stream: stream.write(buffer.getvalue()))

    def mark_done(self, key: str, info: dict[str, Any]) -> None:
        """Record success with the SHA-256 of every file of the run. Call LAST: everything
        else of the run must already be written."""
        files = {entry.name: sha256_of(entry) for entry in sorted(self.run_dir(key).iterdir())
                 if entry.is_file() and not entry.name.startswith(".") and entry.name != STATUS_FILE}
        self.write_json(key, STATUS_FILE, {**info, "state": DONE, "key": key, "files": files})

    def mark_failed(self, key: str, error: str, traceback_text: str, info: dict[str, Any] | None = None) -> None:
        """Record a failure with its traceback (the grid goes on with other runs)."""
        atomic_write_text(self.path(key, TRACEBACK_FILE), traceback_text)
        self.write_json(key, STATUS_FILE, {**(info or {}), "state": FAILED, "key": key, "error": error,
                                           "traceback": TRACEBACK_FILE})


_DIGESTS: dict[tuple, str] = {}


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes. Memoised per process by the file's identity and change time
    (every write sets it to now and no user call can set it back), but only for files unchanged
    for over a second, so a write within the clock's granularity is never missed."""
    stat = os.stat(path)
    version = (str(Path(path).resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if version in _DIGESTS:
        return _DIGESTS[version]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if time.time_ns() - stat.st_ctime_ns > 1_000_000_000:
        _DIGESTS[version] = digest.hexdigest()
    return digest.hexdigest()
