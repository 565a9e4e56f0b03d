"""The paired comparisons of a study table as one forest plot (`comparisons.png` / `.pdf`).

One panel per column of the paper's table that the comparisons read (scores, then drift Δ); one line
per (question, row − against) pair: the mean paired difference and its bootstrap 95 % interval,
filled where Holm-significant, hollow where not, and coloured by whether the row is better (green)
or worse (red) than the row it is compared with. The zero line is "no difference".
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bench.figures.style import figure_style, save_figure
from bench.row_labels import row_label

BETTER, WORSE = "#2e7d32", "#c62828"


def _short(row: str) -> str:
    return row_label(row).split(" — ")[0]


def draw_comparisons(table: pd.DataFrame, title: str = "", columns: list[tuple[str, str]] | None = None):
    """The figure (None when `table` is empty). `columns`: (metric, "score" | "drift") panels, default
    every column in the table's order."""
    if table.empty:
        return None
    columns = columns or list(dict.fromkeys(zip(table["metric"], table["value"], strict=True)))
    pairs = list(dict.fromkeys(zip(table["question"], table["row"], table["against"], strict=True)))
    with figure_style():
        figure, axes = plt.subplots(1, len(columns), figsize=(1.6 * len(columns) + 3.5, 0.22 * len(pairs) + 1.4),
                                    sharey=True, squeeze=False)
        for axis, (metric, value) in zip(axes[0], columns, strict=True):
            part = table[(table["metric"] == metric) & (table["value"] == value)]
            for y, (question, row, against) in enumerate(pairs):
                match = part[(part["question"] == question) & (part["row"] == row) & (part["against"] == against)]
                if match.empty:
                    continue
                record = match.iloc[0]
                colour = BETTER if record["better"] else WORSE
                axis.plot([record["ci_low"], record["ci_high"]], [y, y], color=colour, linewidth=1.0)
                axis.plot(record["mean_difference"], y, "o", markersize=3.5, color=colour,
                          markerfacecolor=colour if record["significant"] else "white")
            axis.axvline(0.0, color="0.5", linewidth=0.6)
            arrow = "↓" if part["direction"].iloc[0] == "lower" else "↑" if len(part) else ""
            axis.set_title(f"{'Δ ' if value == 'drift' else ''}{metric} {arrow}", fontsize=8)
            axis.tick_params(axis="x", labelsize=6)
        labels = [f"{question}: {_short(row)} − {_short(against)}" for question, row, against in pairs]
        axes[0][0].set_yticks(range(len(pairs)), labels, fontsize=6)
        axes[0][0].invert_yaxis()
        figure.suptitle(f"{title}: paired differences (row − against), 95 % bootstrap intervals; "
                        "filled = Holm p < 0.05; green = row better", fontsize=8, y=1.0 + 0.35 / (0.22 * len(pairs) + 1.4))
    return figure


def comparisons_figure(table: pd.DataFrame, stem: str | Path, title: str = "") -> list[Path]:
    """Draw and save (PNG and PDF) the forest plot; [] when there is nothing to compare."""
    figure = draw_comparisons(table, title)
    return save_figure(figure, stem) if figure is not None else []
