"""A grid's table drawn for a terminal (rich): what `fpbench demo`, `run` and `table` print.

The files under results/<grid>/ keep markdown, LaTeX and CSV (`bench.tables.render`); a terminal gets
boxes, bold best cells and plain row names instead of `**` and backticks. The table is split into
the scores (with ELO) and the drift Δ, so each half fits a usual terminal width.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.row_labels import plain_name


def cell_text(record: pd.Series) -> Text:
    """"52.4 ± 11.0" (bold when best), "1026" for a rating, "–" when nothing was measured."""
    if pd.isna(record["mean"]):
        return Text("–")
    if record["kind"] == "rating":
        text = f"{record['mean']:.0f}"
    elif pd.isna(record["ci_low"]):
        text = f"{record['mean']:.1f}"
    else:
        text = f"{record['mean']:.1f} ± {(record['ci_high'] - record['ci_low']) / 2:.1f}"
    return Text(text, style="bold" if record["best"] else "")


def row_text(row: str) -> Text:
    plain = plain_name(row)
    text = Text(plain if plain != row else row)
    if plain != row:
        text.append(f"\n{row}", style="dim")
    return text


def terminal_tables(summary: pd.DataFrame, title: str) -> list[Table]:
    """Per length: a table of the scores (and ELO, rank) and one of the drift Δ columns."""
    tables = []
    for length in dict.fromkeys(summary["length"]):
        part = summary[summary["length"] == length]
        n = part.loc[part["kind"] != "rating", "n"]
        caption = f"percent, mean ± 95 % CI over {int(n.max()) if len(n) else 0} videos per row; best in bold"
        if part["simulated"].any():
            caption += "; ELO from SIMULATED judges, not human votes"
        for kinds, heading in ((("global", "rating"), "scores"), (("drift",), "start–end drift Δ")):
            cells = part[part["kind"].isin(kinds)]
            if cells.empty:
                continue
            table = Table(title=f"{title} — {length} videos: {heading}", caption=caption, title_justify="left")
            table.add_column("variant", min_width=14)
            columns = list(dict.fromkeys(cells["column"]))
            for column in columns:
                table.add_column(column, justify="right")
            for row in dict.fromkeys(cells["row"]):
                by_column = {r["column"]: r for _, r in cells[cells["row"] == row].iterrows()}
                table.add_row(row_text(row), *(cell_text(by_column[c]) if c in by_column else Text("–")
                                               for c in columns))
            tables.append(table)
    return tables


def print_tables(console: Console, summary: pd.DataFrame, title: str,
                 missing: dict[str, dict[str, Any]] | None = None) -> None:
    """Print the terminal tables, then a line per metric that could not be measured in some runs."""
    for table in terminal_tables(summary, title):
        console.print(table)
    for metric, entry in (missing or {}).items():
        console.print(Text.assemble((metric, "yellow"), f": not measured in {entry['runs']} run(s) — {entry['reason']}"))
