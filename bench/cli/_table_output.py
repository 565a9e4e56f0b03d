"""A grid's table drawn for a terminal (rich): what `fpbench demo`, `run` and `table` print.

The files under results/<grid>/ keep markdown, LaTeX and CSV (`bench.tables.render`); a terminal gets
boxes, bold best cells and plain row names instead of `**` and backticks. The table is split into
the scores (with ELO) and the drift Δ, and further when a part would not fit the terminal's width.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.row_labels import plain_name
from bench.tables import cell_text as table_cell


def cell_text(record: pd.Series) -> Text:
    """"52.4 ± 11.0", bold when best (one decimal: a terminal has less room than a paper)."""
    return Text(table_cell(record, decimals=1), style="bold" if record["best"] else "")


def row_text(row: str) -> Text:
    plain = plain_name(row)
    text = Text(plain if plain != row else row)
    if plain != row:
        text.append(f"\n{row}", style="dim")
    return text


def column_width(column: str, cells: list[str]) -> int:
    """A column's width: its widest cell or header word (the header wraps between words)."""
    return max([len(word) for word in column.split()] + [len(cell) for cell in cells])


def column_groups(columns: list[str], cells: dict[str, list[str]], room: int) -> list[list[str]]:
    """Split columns into consecutive groups that fit `room` characters side by side, so a narrow
    terminal gets more tables instead of cut-off numbers. A column needs its widest cell or header
    word, plus its borders."""
    groups: list[list[str]] = [[]]
    used = 0
    for column in columns:
        need = column_width(column, cells[column]) + 3
        if groups[-1] and used + need > room:
            groups.append([])
            used = 0
        groups[-1].append(column)
        used += need
    return groups


def terminal_tables(summary: pd.DataFrame, title: str, width: int = 120) -> list[Table]:
    """Per length: tables of the scores (and ELO, rank), then of the drift Δ columns, each split
    further when it would not fit `width` characters."""
    tables = []
    for length in dict.fromkeys(summary["length"]):
        part = summary[summary["length"] == length]
        n = part.loc[part["kind"] != "rating", "n"]
        caption = f"percent, mean ± 95 % CI over {int(n.max()) if len(n) else 0} videos per row; best in bold"
        if part["simulated"].any():
            caption += "; ELO from SIMULATED judges, not human votes"
        rows = list(dict.fromkeys(part["row"]))
        label_width = max(len(line) for row in rows for line in row_text(row).plain.split("\n"))
        for kinds, heading in ((("global", "set", "rating"), "scores"), (("drift",), "drift")):
            chosen = part[part["kind"].isin(kinds)]
            if chosen.empty:
                continue
            by_cell = {(r["row"], r["column"]): cell_text(r) for _, r in chosen.iterrows()}
            columns = list(dict.fromkeys(chosen["column"]))
            texts = {c: [by_cell[r, c].plain for r in rows if (r, c) in by_cell] for c in columns}
            for group in column_groups(columns, texts, width - min(label_width, 30) - 4):
                table = Table(title=f"{title} — {length} videos: {heading}", caption=caption, title_justify="left")
                table.add_column("variant", min_width=16, overflow="fold")
                for column in group:
                    table.add_column(column, justify="right", min_width=column_width(column, texts[column]))
                for row in rows:
                    table.add_row(row_text(row), *(by_cell.get((row, c), Text("–")) for c in group))
                tables.append(table)
    return tables


def print_tables(console: Console, summary: pd.DataFrame, title: str,
                 missing: dict[str, dict[str, Any]] | None = None) -> None:
    """Print the terminal tables, then a line per metric that could not be measured in some runs."""
    for table in terminal_tables(summary, title, console.width):
        console.print(table)
    for metric, entry in (missing or {}).items():
        console.print(Text.assemble((metric, "yellow"), f": not measured in {entry['runs']} run(s) — {entry['reason']}"))
