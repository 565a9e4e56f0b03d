"""The one video reader every metric path uses (PyAV).

Errors are per video and say which file and what is wrong, so a batch can record them and
go on with the other videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class VideoReadError(ValueError):
    """A video file cannot be measured: missing, corrupt, truncated, or too short."""


@dataclass
class Video:
    """Decoded frames (uint8 RGB, (T, H, W, 3)) and the stream's frame rate."""

    frames: np.ndarray
    fps: float
    path: str


def read_video(path: str | Path, min_frames: int = 2, max_frames: int | None = None) -> Video:
    """Decode every frame of a video file to uint8 RGB.

    Args:
        path: an mp4 (or anything FFmpeg reads).
        min_frames: fewer decodable frames than this is an error (metrics compare frames, so 2).
        max_frames: stop after this many frames (None: all).

    Returns:
        `Video` with frames (T, H, W, 3) uint8.

    Raises:
        VideoReadError naming the file: missing, not a video, corrupt or truncated stream,
        0 frames or fewer than `min_frames`.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path}: is empty (0 bytes)")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except VideoReadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        if not frames:
            raise VideoReadError(
                f"{path}: cannot be decoded (not a video, or corrupt / truncated: {error})"
            ) from error
        # Truncated after some frames: an error too, a silently short video would skew drift.
        raise VideoReadError(
            f"{path}: stream is corrupt or truncated after {len(frames)} frames ({error})"
        ) from error
    if not frames:
        raise VideoReadError(f"{path}: has 0 frames")
    if len(frames) < min_frames:
        raise VideoReadError(f"{path}: has {len(frames)} frame(s); metrics need at least {min_frames}")
    return Video(frames=np.stack(frames).astype(np.uint8, copy=False), fps=fps, path=str(path))


def write_video(path: str | Path, frames: np.ndarray, fps: float = 16.0, crf: int = 12) -> None:
    """Encode uint8 frames (T, H, W, 3) as H.264 mp4, atomically (temp file, then rename).

    Used by tests and benchmarks; H and W are padded to even sizes by the caller's choice of sizes.
    """
    import os
    import tempfile

    import av

    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, mode="w") as container:
            stream = container.add_stream("libx264", rate=int(round(fps)))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": str(crf)}
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
