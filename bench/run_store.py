"""The run store: one folder per run, keyed by the hash of its resolved config.

A run folder holds::

    config.yaml        the resolved config (what was asked)
    video.mp4          the video (H.264), for viewing and A/B votes
    frames.npz         the exact frames (lossless; optional), so a rescore sees what was measured
    metrics.parquet    tidy metric values (per frame / pair / window, and the video score)
    provenance.json    git revision, package versions, seed, machine, timings
    traceback.txt      only for a failed run
    status.json        written LAST, by atomic rename: {"state": "done" | "failed", ...}

A folder without status.json is an unfinished run (e.g. killed half-way): it counts as
pending and is wiped and redone from scratch. The grid index is derived from the folders,
never kept separately, so it cannot disagree with them.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.atomic_files import atomic_write, atomic_write_text

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

    def run_dir(self, key: str) -> Path:
        """The folder of run `key` (not necessarily existing)."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid run key {key!r}")
        return self.root / key

    def path(self, key: str, name: str) -> Path:
        return self.run_dir(key) / name

    # ------------------------------------------------------------------ reading

    def status(self, key: str) -> RunStatus:
        """done / failed from status.json; pending when there is none (or it is unreadable)."""
        path = self.path(key, STATUS_FILE)
        try:
            info = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return RunStatus(key, PENDING)
        return RunStatus(key, info.get("state", PENDING), info)

    def statuses(self, keys: Iterable[str]) -> pd.DataFrame:
        """The index of `keys`: one row per key with its state (derived from the folders)."""
        rows = []
        for key in keys:
            status = self.status(key)
            rows.append({"key": key, "state": status.state, "error": status.info.get("error")})
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

    def read_frames(self, key: str) -> np.ndarray:
        """The run's exact frames from frames.npz, or decoded from video.mp4 if there is none."""
        frames_path = self.path(key, FRAMES_FILE)
        if frames_path.is_file():
            with np.load(frames_path) as data:
                return data["frames"]
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
        target = self.path(key, VIDEO_FILE)
        temporary = target.with_name(f".{target.name}.tmp.mp4")
        write_video(temporary, frames, fps)
        os.replace(temporary, target)

    def write_metrics(self, key: str, values: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        values.to_parquet(buffer, index=False)
        atomic_write(self.path(key, METRICS_FILE), lambda stream: stream.write(buffer.getvalue()))

    def mark_done(self, key: str, info: dict[str, Any]) -> None:
        """Record success. Call LAST: everything else of the run must already be written."""
        self.write_json(key, STATUS_FILE, {**info, "state": DONE, "key": key})

    def mark_failed(self, key: str, error: str, traceback_text: str, info: dict[str, Any] | None = None) -> None:
        """Record a failure with its traceback (the grid goes on with other runs)."""
        atomic_write_text(self.path(key, TRACEBACK_FILE), traceback_text)
        self.write_json(key, STATUS_FILE, {**(info or {}), "state": FAILED, "key": key, "error": error,
                                           "traceback": TRACEBACK_FILE})


def write_video(path: str | Path, frames: np.ndarray, fps: int) -> None:
    """Encode uint8 frames (T, H, W, 3) as H.264 mp4 (yuv420p, CRF 12; PyAV).

    Odd heights or widths are padded by one pixel (H.264 in yuv420p needs even sizes).
    """
    import av

    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected uint8 frames (T, H, W, 3) with T >= 1, got {frames.shape}")
    height, width = frames.shape[1:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "medium"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def read_video(path: str | Path) -> np.ndarray:
    """Decode an mp4 into uint8 frames (T, H, W, 3)."""
    import av

    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if not frames:
        raise ValueError(f"{str(path)!r} holds no video frames")
    return np.stack(frames)
