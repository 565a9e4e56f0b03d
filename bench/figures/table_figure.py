"""Tables as figures: a length's paper-style table (summary.parquet) drawn as a matplotlib table,
best cells in bold, simulated ELO labelled."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import figure_style
from bench.ratings.labels import SIMULATED_TITLE
from bench.tables import wide_table


def draw_table(summary: pd.DataFrame, length: str, title: str = "") -> Figure:
    """The table of one length (rows = variants; cells mean ± CI; best in bold).

    Raises:
        ValueError: the summary has no rows for `length`.
    """
    part = summary[summary["length"] == length]
    if part.empty:
        raise ValueError(f"the summary has no rows for length {length!r}; lengths: {sorted(set(summary['length']))}")
    cells = wide_table(part, length, fmt="plain")
    best = {(r["row"], r["column"]) for _, r in part[part["best"]].iterrows()}
    width = 1.7 + 1.05 * len(cells.columns) + 0.055 * max(len(str(r)) for r in cells.index)
    with figure_style():
        figure = Figure(figsize=(width, 0.32 * len(cells) + 1.0))
        axis = figure.subplots()
        axis.axis("off")
        headers = [str(c).replace(" (simulated)", "\n(simulated)") for c in cells.columns]
        table = axis.table(cellText=cells.to_numpy(), rowLabels=list(cells.index), colLabels=headers,
                           loc="center", cellLoc="center", rowLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        table.scale(1.0, 1.35)
        for (line, column), cell in table.get_celld().items():
            cell.set_edgecolor("0.85")
            if line == 0:
                cell.set_text_props(weight="bold")
                cell.set_facecolor("#F2F2F2")
                if any("\n" in h for h in headers):
                    cell.set_height(cell.get_height() * 1.8)
            elif column >= 0 and (cells.index[line - 1], cells.columns[column]) in best:
                cell.set_text_props(weight="bold")
        n = part.loc[part["kind"] != "rating", "n"]
        note = f"percent, mean ± 95 % CI over {int(n.max()) if len(n) else 0} videos per row; best in bold"
        if part["simulated"].any():
            note += f"; ELO: {SIMULATED_TITLE}"
        axis.set_title(f"{title}{' — ' if title else ''}{length} videos\n{note}", fontsize=7)
    return figure
