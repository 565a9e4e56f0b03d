"""`fpbench study`: both paper tables at lab scale end to end (grids/paper-table1.yaml and
grids/paper-table2.yaml) — videos, every metric and drift, SIMULATED-judge ELO-K32, tables, figures
and the paired comparisons — under results/paper-table1/ and results/paper-table2/."""

from __future__ import annotations

import argparse

from bench.cli._grid_args import (
    add_end_to_end_arguments,
    add_executor_arguments,
    add_grid_arguments,
    report_skipped,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study", help="run the lab study: both paper tables end to end (results/paper-table{1,2}/)",
        description="Runs grids/paper-table1.yaml and grids/paper-table2.yaml with the committed lab "
                    "checkpoints (64 test items x 2 seeds x 12 sections per row), measures every metric, "
                    "rates the rows with SIMULATED judges (ELO-K32), writes each table, its figures and "
                    "the paired comparisons of the paper's questions (comparisons.md) to "
                    "RESULTS/<grid>/ and the wall time to RESULTS/study.json. Both grids are validated "
                    "before any work; an interrupted study resumes from the run store.")
    parser.add_argument("--grid", dest="grids", action="append", default=None, metavar="GRID",
                        help="run only this grid (repeatable; default both paper tables)")
    add_grid_arguments(parser, grid_required=False)  # --set (applied to every grid), --store, --skip-missing
    add_executor_arguments(parser)
    add_end_to_end_arguments(parser, "where the tables go: DIR/paper-table1/, DIR/paper-table2/ (default results)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from bench.cli._table_output import print_tables
    from bench.executors import make_executor
    from bench.study import STUDY_GRIDS, run_study

    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    console = Console()
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address)
    result = run_study(args.grids or STUDY_GRIDS, args.overrides, executor=executor, store_root=args.store,
                       results_root=args.results, progress=not args.no_progress, rating=not args.no_rating,
                       jobs=args.jobs, skip_missing=args.skip_missing)
    failed = 0
    for table, comparisons in zip(result.tables, result.comparisons, strict=True):
        report_skipped(table.grid, console)
        print_tables(console, table.tables["summary"], table.grid.name, table.tables["results"].missing)
        for outcome in table.summary.failed:
            console.print(f"[red]failed[/] {escape(outcome.row_name)} {outcome.key}: {escape(str(outcome.error))}",
                          soft_wrap=True)
        failed += len(table.summary.failed)
        console.print(f"paired comparisons: {comparisons}", soft_wrap=True, highlight=False)
    if any(table.ratings is not None for table in result.tables):
        console.print("ELO-K32 above comes from SIMULATED judges (not human votes).", style="yellow")
    console.print(f"study finished in {result.seconds / 60:.1f} min; record: {result.record}", highlight=False)
    return 1 if failed else 0
