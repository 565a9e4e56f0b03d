"""Tables as figures: a length's paper-style table (summary.parquet) drawn as matplotlib tables,
best cells in bold, simulated ELO labelled. The scores (with ELO) and the drift Δ are stacked, not
side by side, so the figure stays readable at page width."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import figure_style
from bench.ratings.labels import SIMULATED_TITLE
from bench.row_labels import row_label
from bench.tables import wide_table

PARTS = ((("global", "set", "rating"), "scores"), (("drift",), "drift"))
MAX_COLUMNS = 8  # per stacked block: wider tables are split, so the text keeps its size at page width
FONT_SIZE = 8.0
LINE_HEIGHT = 0.42  # inches per row: two text lines (plain name over notation)


def draw_table(summary: pd.DataFrame, length: str, title: str = "") -> Figure:
    """The table of one length (rows = variants; cells mean ± CI; best in bold).

    Raises:
        ValueError: the summary has no rows for `length`.
    """
    part = summary[summary["length"] == length]
    if part.empty:
        raise ValueError(f"the summary has no rows for length {length!r}; lengths: {sorted(set(summary['length']))}")
    blocks = []
    for kinds, heading in PARTS:
        chosen = part[part["kind"].isin(kinds)]
        columns = list(dict.fromkeys(chosen["column"]))
        count = -(-len(columns) // MAX_COLUMNS)  # as few blocks as fit, of equal size
        for group in np.array_split(np.array(columns, dtype=object), max(count, 1)):
            blocks.append((heading, chosen[chosen["column"].isin(list(group))]))
    blocks = [(heading, block) for heading, block in blocks if not block.empty]
    best = {(r["row"], r["column"]) for _, r in part[part["best"]].iterrows()}
    widest = max(len(wide_table(block, length, fmt="plain").columns) for _, block in blocks)
    labels = {row: row_label(str(row)).replace(" — ", "\n") for row in dict.fromkeys(part["row"])}
    label_width = 0.075 * max(len(line) for label in labels.values() for line in label.split("\n"))
    heights = [LINE_HEIGHT * (len(labels) + 1.6) for _ in blocks]
    with figure_style():
        figure = Figure(figsize=(label_width + 1.05 * widest, sum(heights) + 0.9))
        axes = figure.subplots(len(blocks), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        for axis, (heading, block) in zip(axes, blocks, strict=True):
            cells = wide_table(block, length, fmt="plain")
            _draw_block(axis, cells, best, labels, heading)
        n = part.loc[part["kind"] != "rating", "n"]
        note = f"percent, mean ± 95 % CI over {int(n.max()) if len(n) else 0} videos per row; best in bold"
        if part["simulated"].any():
            note += f"; ELO: {SIMULATED_TITLE}"
        axes[0].set_title(f"{title}{' — ' if title else ''}{length} videos\n{note}\n\n{blocks[0][0]}",
                          fontsize=FONT_SIZE)
        for axis, (heading, _) in zip(axes[1:], blocks[1:], strict=True):
            axis.set_title(heading, fontsize=FONT_SIZE)
    return figure


def _draw_block(axis, cells: pd.DataFrame, best: set, labels: dict, heading: str) -> None:
    axis.axis("off")
    headers = [str(c).replace(" (simulated)", "\n(simulated)") for c in cells.columns]
    table = axis.table(cellText=cells.to_numpy(), rowLabels=[labels[r] for r in cells.index], colLabels=headers,
                       loc="center", cellLoc="center", rowLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(FONT_SIZE)
    table.scale(1.0, 2.0)
    for (line, column), cell in table.get_celld().items():
        cell.set_edgecolor("0.85")
        if line == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#F2F2F2")
        elif column >= 0 and (cells.index[line - 1], cells.columns[column]) in best:
            cell.set_text_props(weight="bold")
