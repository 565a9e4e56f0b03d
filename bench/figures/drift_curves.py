"""Drift curves: each metric over time (per-window values) for every row, with confidence bands.

The curves are `bench.analysis.row_window_curves` over values.parquet: per video the windows of
`metrics.drift.window_curves`, then per row the mean over videos and its Student-t 95 % band.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.analysis import row_window_curves
from bench.figures.style import cap_percent_axis, figure_style, row_colours
from bench.row_labels import row_label
from bench.tables import percent_scale


def draw_drift_curves(values: pd.DataFrame, rows: list[str], metrics: list[str], length: str,
                      windows: int = 10, title: str = "") -> Figure:
    """One panel per metric, one line per row (mean over videos) with its 95 % band.

    Args:
        values: values.parquet of a grid.
        rows: row names in table order (colours and legend order).
        metrics: metrics to draw (those with per-unit values).
        length: the video length to draw (e.g. "long").
        windows: windows per video.
        title: figure title prefix (the grid name).

    Raises:
        ValueError: no per-unit values for these metrics at this length.
    """
    part = values[values["length"] == length]
    curves = row_window_curves(part, metrics, windows)
    if curves.empty:
        raise ValueError(f"no per-unit values of {metrics} for length {length!r}: nothing to draw")
    metrics = [m for m in metrics if m in set(curves["metric"])]
    colours = row_colours(rows)
    columns = min(3, len(metrics))
    lines = math.ceil(len(metrics) / columns)
    with figure_style():
        figure = Figure(figsize=(3.4 * columns, 2.5 * lines + 0.6))
        axes = np.atleast_1d(figure.subplots(lines, columns, squeeze=False)).ravel()
        for axis, metric in zip(axes, metrics, strict=False):
            # fractions and cosines (identity) in percent, as in every table
            scale = percent_scale(curves.loc[curves["metric"] == metric, "mean"].dropna())
            for row in rows:
                curve = curves[(curves["metric"] == metric) & (curves["row"] == row)].sort_values("window")
                if curve.empty:
                    continue
                axis.plot(curve["position"], curve["mean"] * scale, color=colours[row], lw=1.3, marker=".", ms=3,
                          label=f"{row_label(row)} (n={int(curve['n'].max())})")
                axis.fill_between(curve["position"], curve["ci_low"] * scale, curve["ci_high"] * scale,
                                  color=colours[row], alpha=0.18, lw=0)
            axis.set_title(metric + (" (%)" if scale == 100.0 else ""))
            axis.set_xlabel("position in video (start → end)")
            axis.set_xlim(0, 1)
            axis.grid(axis="y")
            if scale == 100.0:
                cap_percent_axis(axis)
        for axis in axes[len(metrics):]:
            axis.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="upper center", ncol=min(len(labels), 2), frameon=False,
                      bbox_to_anchor=(0.5, 0.0))
        figure.suptitle(f"{title}{': ' if title else ''}per-window metrics, {length} videos "
                        f"(mean over videos, 95 % band)")
        figure.tight_layout()
    return figure
