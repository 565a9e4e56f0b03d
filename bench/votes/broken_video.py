"""Gold-item videos: a deliberately broken copy of a real video that any attentive judge rejects."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from bench.video_io import Mp4Sink, read_video


def break_frames(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """Corrupt frames beyond doubt: colours inverted, coarse block noise, every other frame dropped
    and repeated (stutter). Keeps shape and length so playback stays in sync with its partner.

    Args:
        frames: uint8 (T, H, W, 3).
        seed: seed of the noise.
    """
    rng = np.random.default_rng(seed)
    t, h, w, _ = frames.shape
    broken = 255 - frames.astype(np.int16)
    block = max(4, min(h, w) // 8)
    noise = rng.integers(-90, 90, size=(t, -(-h // block), -(-w // block), 3))
    noise = np.repeat(np.repeat(noise, block, axis=1), block, axis=2)[:, :h, :w]
    broken = np.clip(broken + noise, 0, 255).astype(np.uint8)
    stutter = np.arange(t) // 2 * 2
    return broken[stutter]


def video_fps(path: str | Path) -> int:
    """The nominal frame rate of a video file (rounded to an integer, at least 1)."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return max(1, round(float(rate))) if rate else 16


def write_broken_video(source: str | Path, target: str | Path, seed: int = 0) -> Path:
    """Write a broken copy of ``source`` (see :func:`break_frames`) to ``target`` (.mp4, atomic),
    at the source's frame rate so both sides of a gold pair last equally long."""
    frames = read_video(source)
    fps = video_fps(source)
    sink = Mp4Sink(target, fps=fps, crf=23)
    sink.put(0, break_frames(frames, seed))
    sink.close()
    return Path(target)
