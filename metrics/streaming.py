"""Measure a long video chunk by chunk, so it never sits whole in memory.

A 30 s 480p video is 900 frames of 480×832×3 bytes, 1.1 GB as uint8 (4.3 GB as float32). The
reader decodes `chunk_frames` frames at a time; consecutive chunks share one frame, and every chunk
starts at a multiple of the chunk length, itself a multiple of 2 and of the dynamic-degree frame
stride. Then each granularity's units fall whole into one chunk:

    per_frame   — every frame but the shared last one (the next chunk measures it);
    per_triplet — odd frame 2k+1 between 2k and 2k+2: chunks start on an even frame;
    per_pair    — consecutive sampled frames (every `frame_stride(fps)`-th): chunks start on one.

A metric that can be measured this way sets `streamable = True`; its per-unit values are
concatenated and its score recomputed from all of them (`Metric.streamed_score`: the mean, or the
metric's own rule). A metric whose score depends on state across frames (identity: similarity to
the first face) overrides `Metric.stream`. tests/test_metrics_streaming.py checks streamed =
whole-video results.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from metrics.motion_rules import frame_stride

Chunk = tuple[int, np.ndarray, bool]  # (index of its first frame, uint8 frames, is it the last chunk)


def chunk_length(requested: int, fps: float) -> int:
    """The chunk length to use: `requested` rounded up to a multiple of 2·frame_stride(fps)."""
    if requested < 2:
        raise ValueError(f"chunk length must be at least 2 frames, got {requested}")
    unit = 2 * frame_stride(fps)
    return -(-requested // unit) * unit


def chunks_of(frames: np.ndarray, length: int) -> Iterator[Chunk]:
    """Overlapping chunks (length + 1 frames, sharing one) of an in-memory video (tests, small videos)."""
    for first in range(0, max(1, len(frames) - 1), length):
        part = frames[first:first + length + 1]
        yield first, part, first + length + 1 >= len(frames)


def read_video_chunks(path: str | Path, length: int) -> Iterator[Chunk]:
    """Overlapping chunks of a video file, decoded as they are needed (PyAV); see `chunks_of`.

    Raises:
        metrics.video_reader.VideoReadError naming the file when it cannot be decoded.
    """
    import av

    from metrics.video_reader import VideoReadError

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    buffer: list[np.ndarray] = []
    first = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: has no video stream")
            for frame in container.decode(container.streams.video[0]):
                buffer.append(frame.to_ndarray(format="rgb24"))
                if len(buffer) == length + 2:  # a full chunk and the first frame after it
                    yield first, np.stack(buffer[:length + 1]), False
                    buffer = buffer[length:]
                    first += length
    except VideoReadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise VideoReadError(f"{path}: cannot be decoded after frame {first + len(buffer)} ({error})") from error
    if not buffer:
        raise VideoReadError(f"{path}: has 0 frames")
    yield first, np.stack(buffer), True


def video_fps(path: str | Path) -> float:
    """The frame rate a video file's stream declares (0.0 when it declares none)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or 0.0)
