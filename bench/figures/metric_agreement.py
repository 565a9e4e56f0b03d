"""Agreement of each metric with the A/B votes: the share of decisive votes whose winner it prefers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import PALETTE, figure_style

VALUE_LABELS = {"score": "score", "drift": "Δ start–end", "vde_linear": "VDE", "vde_log": "VDE-log"}


def draw_metric_agreement(table: pd.DataFrame, simulated: bool, title: str = "") -> Figure:
    """Horizontal bars with 95 % intervals, one per (metric, value); the chance line at 0.5.

    Args:
        table: `bench.analysis.metric_agreement.metric_agreement(...).table`.
        simulated: the votes came from simulated judges (the title says so).
        title: figure title prefix.
    """
    if table.empty:
        raise ValueError("no metric agreement to draw")
    order = table.sort_values("share")
    labels = [f"{m} · {VALUE_LABELS.get(v, v)} (τ={t:.2f})" for m, v, t in
              zip(order["metric"], order["value"], order["kendall_tau"], strict=True)]
    colours = [PALETTE[list(VALUE_LABELS).index(v) % len(PALETTE)] if v in VALUE_LABELS else PALETTE[-1]
               for v in order["value"]]
    with figure_style():
        figure = Figure(figsize=(6.4, 0.9 + 0.28 * len(order)))
        axis = figure.subplots()
        y = np.arange(len(order))
        errors = np.vstack([order["share"] - order["ci_low"], order["ci_high"] - order["share"]])
        axis.barh(y, order["share"], color=colours, alpha=0.85)
        axis.errorbar(order["share"], y, xerr=np.nan_to_num(errors), fmt="none", ecolor="black", lw=0.8, capsize=2)
        axis.axvline(0.5, color="black", lw=0.8, ls="--")
        axis.set_yticks(y, labels)
        axis.set_xlim(0, 1)
        axis.set_xlabel("share of decisive votes whose winner the metric prefers")
        head = f"{title}{': ' if title else ''}metric agreement with votes"
        figure.suptitle(head + (" — SIMULATED judges (agree by construction)" if simulated else ""))
        figure.tight_layout()
    return figure
