"""`fpbench status GRID`: done / pending / failed runs of a grid, per row."""

from __future__ import annotations

import argparse

from bench.cli._grid_args import add_grid_arguments, report_skipped


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="show done / pending / failed runs of a grid",
                                   description="Read the run store (nothing is run) and count the grid's "
                                               "runs by state, per row.")
    add_grid_arguments(parser)
    parser.add_argument("--runs", action="store_true", help="list every run with its key and state")
    parser.set_defaults(func=main)


def grid_status(grid, store):
    """Per-run states of `grid` as a DataFrame (row, prompt, seed, length, key, state, error)."""
    import pandas as pd

    index = store.statuses([run.key for run in grid.runs])
    labels = pd.DataFrame([{"row": r.row_name, "prompt": r.prompt.id, "seed": r.seed, "length": r.length.name}
                           for r in grid.runs])
    return pd.concat([labels, index], axis=1)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from bench.grid import load_and_resolve
    from bench.run_store import RunStore

    grid = load_and_resolve(args.grid, args.overrides, skip_missing=args.skip_missing)
    store = RunStore(args.store or grid.spec.store)
    states = grid_status(grid, store)
    console = Console()
    report_skipped(grid, console)
    table = Table(title=escape(f"grid {grid.name} — store {store.root}"))
    for column in ("row", "done", "pending", "failed", "total"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for row in grid.row_names:
        part = states[states["row"] == row]
        counts = part["state"].value_counts()
        table.add_row(escape(row), *(str(int(counts.get(s, 0))) for s in ("done", "pending", "failed")), str(len(part)))
    totals = states["state"].value_counts()
    table.add_row("all", *(str(int(totals.get(s, 0))) for s in ("done", "pending", "failed")), str(len(states)),
                  style="bold")
    console.print(table)
    if args.runs:
        console.print(states.to_string(index=False), markup=False, highlight=False)
    else:
        for _, failed in states[states["state"] == "failed"].iterrows():
            console.print("[red]failed[/] " + escape(f"{failed['row']} {failed['prompt']} seed {failed['seed']} "
                                                     f"{failed['key']}: {failed['error']}"))
        damaged = states[(states["state"] == "pending") & states["error"].notna()]
        for _, run in damaged.iterrows():  # a done run whose files no longer match its status
            console.print("[yellow]damaged[/] " + escape(f"{run['row']} {run['prompt']} seed {run['seed']} "
                                                         f"{run['key']}: {run['error']}; the next run redoes it"))
    return 0
