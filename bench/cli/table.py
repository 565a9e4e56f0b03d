"""`fpbench table GRID`: the paper-style table of a grid's finished runs."""

from __future__ import annotations

import argparse

from bench.cli._grid_args import add_grid_arguments, report_skipped


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "table", help="paper-style table of a grid (md / latex / csv)",
        description="Aggregate the grid's finished runs (nothing is generated or measured): one row per "
                    "variant, metrics and drift in percent, mean ± 95 % CI over videos, best in bold, "
                    "ELO-K32 and rank when ratings exist. Saved under RESULTS/<grid>/.")
    add_grid_arguments(parser)
    parser.add_argument("--format", choices=["md", "latex", "csv"], default=None,
                        help="print the table as markdown, LaTeX or CSV text (default: a table drawn for the "
                             "terminal); the files always hold all three")
    parser.add_argument("--results", default="results", metavar="DIR", help="output root (default results)")
    parser.add_argument("--cost", action="store_true",
                        help="add what a video costs: NFE, generation and whole-run seconds, peak memory (mean per row)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import sys

    from bench.grid import load_and_resolve
    from bench.run_store import RunStore
    from bench.tables import write_tables

    grid = load_and_resolve(args.grid, args.overrides, skip_missing=args.skip_missing)
    from rich.console import Console

    report_skipped(grid, Console(stderr=True))
    store = RunStore(args.store or grid.spec.store)
    tables = write_tables(grid, store, out_root=args.results, cost=args.cost)
    states = tables["results"].runs["state"].value_counts()
    if args.format:
        sys.stdout.write(tables["texts"][args.format])
    else:
        from bench.cli._table_output import print_tables

        print_tables(Console(), tables["summary"], grid.name, tables["results"].missing)
    print(f"\n{int(states.get('done', 0))}/{len(tables['results'].runs)} runs done; saved "
          f"{tables['paths']['md'].parent}/ (table.md, table.tex, table.csv, summary/scores/values.parquet"
          f"{', set_level.parquet' if 'set_level' in tables['paths'] else ''})",
          file=sys.stderr)
    for name, entry in tables["results"].missing.items():
        print(f"metric {name!r} was not measured in {entry['runs']} run(s): {entry['reason']}", file=sys.stderr)
    return 0
