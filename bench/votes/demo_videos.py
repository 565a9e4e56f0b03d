"""Tiny synthetic videos (distinct colours, a moving bar) for trying the vote server without a grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.votes.study import VideoRecord

PALETTE = [(210, 50, 50), (50, 170, 60), (60, 80, 210), (220, 180, 40), (150, 60, 180), (40, 170, 170)]


def make_demo_videos(
    directory: str | Path,
    rows: list[str],
    prompts: int = 2,
    seeds: int = 1,
    frames: int = 16,
    fps: int = 16,
    size: int = 64,
) -> list[VideoRecord]:
    """Write one small H.264 mp4 per (row, prompt, seed) and return their video records.

    Each row has its own colour; prompt and seed change the bar's position, so every video differs.

    Args:
        directory: output folder (created).
        rows: row names (the first six get distinct palette colours).
        prompts: prompts per row; seeds: seeds per prompt.
        frames, fps, size: length, frame rate and side of the videos (size must be even).
    """
    from bench.video_io import Mp4Sink

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    records = []
    for r, row in enumerate(rows):
        colour = np.array(PALETTE[r % len(PALETTE)], dtype=np.uint8)
        for p in range(prompts):
            for s in range(seeds):
                video = np.empty((frames, size, size, 3), dtype=np.uint8)
                video[:] = colour
                top = (8 * (p + 1) + 5 * s) % (size - 8)
                for t in range(frames):
                    x = (t * size) // max(frames, 1)
                    video[t, top : top + 8, x : x + 8] = 255
                path = directory / f"{row}_p{p}_s{s}.mp4"
                sink = Mp4Sink(path, fps=fps, crf=20)
                sink.put(0, video)
                sink.close()
                records.append(VideoRecord(row=row, prompt_id=f"p{p}", seed=s, video=str(path),
                                           prompt=f"prompt {p}: a white square crosses a plain field"))
    return records
