"""Sample strips: frames at fixed times for the same prompt across rows, read from the run store."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from bench.figures.style import figure_style
from bench.row_labels import row_label

DEFAULT_TIMES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def frame_indices(num_frames: int, times: Sequence[float]) -> list[int]:
    """Frame indices at fractions of the video (0 = first frame, 1 = last)."""
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    for time in times:
        if not 0.0 <= time <= 1.0:
            raise ValueError(f"sample times are fractions of the video in [0, 1], got {time}")
    return [int(round(time * (num_frames - 1))) for time in times]


def draw_sample_strip(rows: Sequence[tuple[str, str]], read_frames: Callable[[str], np.ndarray],
                      times: Sequence[float] = DEFAULT_TIMES, title: str = "") -> Figure:
    """A grid of frames: one line per (row name, run key), one column per time.

    Args:
        rows: (row name, run key) pairs for the same prompt, seed and length.
        read_frames: run key -> uint8 frames (T, H, W, 3) (`RunStore.read_frames`).
        times: fractions of the video to show.
        title: the figure title (prompt, seed, length).
    """
    if not rows:
        raise ValueError("no runs to draw a sample strip from")
    with figure_style():
        figure = Figure(figsize=(1.15 * len(times) + 2.6, 1.15 * len(rows) + 0.6))
        axes = np.atleast_2d(figure.subplots(len(rows), len(times), squeeze=False))
        for line, (name, key) in enumerate(rows):
            frames = read_frames(key)
            for column, index in enumerate(frame_indices(len(frames), times)):
                axis = axes[line, column]
                axis.imshow(frames[index], interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                for spine in axis.spines.values():
                    spine.set_visible(True)
                    spine.set_color("0.7")
                if line == 0:
                    axis.set_title(f"t = {times[column]:.0%}\n(frame {index})", fontsize=7)
                if column == 0:
                    axis.set_ylabel(row_label(name).replace(" — ", "\n"), rotation=0, ha="right", va="center", fontsize=7)
        figure.suptitle(title, fontsize=8)
        figure.subplots_adjust(wspace=0.05, hspace=0.08)
    return figure
