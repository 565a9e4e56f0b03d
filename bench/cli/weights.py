"""`fpbench weights [--dir DIR]`: every weights file the paper backends need, present or missing."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights", help="list the weight files of the paper metric backends, present or missing",
        description="Nothing is downloaded: this lists each file, its size and source, and where it is looked "
                    "for ($TORCH_HOME, $HF_HOME, $INSIGHTFACE_ROOT, $FPBENCH_DATA, or --dir first).")
    parser.add_argument("--dir", default=None, help="a weights folder searched first")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from metrics.weights import WeightsResolver

    rows = WeightsResolver(args.dir).status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = Console()  # a terminal's own width; a pipe or file gets long lines, not folded paths
    console = console if console.is_terminal else Console(width=220)
    table = Table(title="metric weights (never downloaded; place files at the path shown)")
    for column in ("file", "used by", "size", "state", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = "[green]present[/]" if row["present"] else "[red]missing[/]"
        table.add_row(escape(row["filename"]), escape(row["used_by"]), row["size"], state,
                      escape(row["found"] or row["expected"]))
    console.print(table)
    console.print("sources:")
    for row in rows:
        console.print(f"  {row['filename']}: {row['source']}" + (f" [{row['licence']}]" if row["licence"] else ""),
                      markup=False, highlight=False)
    present = sum(r["present"] for r in rows)
    console.print(f"{present} of {len(rows)} files present")
    return 0
