"""Reference-based drift curves: each row's set-level distance to real video per window, over its floor."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import figure_style, row_colours


def draw_reference_curves(set_level: pd.DataFrame, rows: list[str], length: str, title: str = "") -> Figure:
    """One panel per set-level metric: a line per row (distance of its videos to real video in each
    window) and the dashed real-vs-real floor.

    Args:
        set_level: set_level.parquet of a grid (`bench.grid.set_level.set_level_results`).
        rows: row names in table order.
        length: the video length to draw.
        title: figure title prefix.

    Raises:
        ValueError: no measured windows at this length.
    """
    part = set_level[(set_level["length"] == length) & (set_level["kind"] == "window")]
    if part.empty:
        raise ValueError(f"no set-level curves for length {length!r}: nothing to draw")
    metrics = list(dict.fromkeys(part["metric"]))
    colours = row_colours(rows)
    with figure_style():
        figure = Figure(figsize=(4.2 * len(metrics), 3.2))
        axes = np.atleast_1d(figure.subplots(1, len(metrics), squeeze=False)).ravel()
        for axis, metric in zip(axes, metrics, strict=True):
            curves = part[part["metric"] == metric]
            for row in rows:
                curve = curves[curves["set"] == row].sort_values("index")
                if not curve.empty:
                    axis.plot(curve["position"], curve["value"], color=colours[row], lw=1.3, marker=".", ms=4,
                              label=f"{row} (n={int(curve['videos'].max())})")
            floor = curves.sort_values("index").drop_duplicates("index")
            axis.plot(floor["position"], floor["floor"], color="black", ls="--", lw=1.0, label="real vs real (floor)")
            backend = curves["backend"].iloc[0]
            axis.set_title(f"{metric} [{backend}] (set-level)")
            axis.set_xlabel("position in video (start → end)")
            axis.set_ylabel("Fréchet distance to real video")
            axis.set_xlim(0, 1)
            axis.grid(axis="y")
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 2), frameon=False,
                      bbox_to_anchor=(0.5, -0.04 - 0.05 * math.ceil(len(labels) / 2)))
        figure.suptitle(f"{title}{': ' if title else ''}distance to real video per window, {length} videos")
        figure.tight_layout()
    return figure
