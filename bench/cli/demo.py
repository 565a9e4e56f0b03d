"""`fpbench demo`: the lab demo (grids/demo.yaml) end to end — videos, metrics, drift,
simulated-judge ELO-K32, the table and a figure under results/demo/."""

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
        "demo", help="run the lab demo grid end to end (table + figure in results/demo/)",
        description="Runs grids/demo.yaml with the committed lab checkpoints: FramePack rows on lab test "
                    "start frames, every lab metric and drift, a SIMULATED-judge A/B round turned into "
                    "ELO-K32, the table on stdout and in results/demo/, and a figure of sample frames and "
                    "drift curves. Resumable like `fpbench run`.")
    parser.add_argument("--grid", default="grids/demo.yaml", help="grid file (default grids/demo.yaml)")
    add_grid_arguments(parser, grid_required=False)
    add_executor_arguments(parser)
    add_end_to_end_arguments(parser, "where the table and figures go: DIR/demo/ (default results)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from bench.cli._table_output import print_tables
    from bench.demo import run_demo
    from bench.executors import make_executor

    console = Console()
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address)
    result = run_demo(args.grid, args.overrides, executor=executor, store_root=args.store,
                      results_root=args.results, progress=not args.no_progress, rating=not args.no_rating,
                      skip_missing=args.skip_missing)
    report_skipped(result.grid, console)
    print_tables(console, result.tables["summary"], result.grid.name, result.tables["results"].missing)
    out_dir = result.tables["paths"]["md"].parent
    if result.ratings is not None:
        console.print("ELO-K32 above comes from SIMULATED judges (not human votes); details in "
                      f"{out_dir / 'ratings'}/", style="yellow", soft_wrap=True)
    for outcome in result.summary.failed:
        console.print(f"[red]failed[/] {escape(outcome.row_name)} {outcome.key}: {escape(str(outcome.error))}", soft_wrap=True)
    console.print(f"demo finished in {result.seconds:.1f} s. Written to {out_dir}/: table.md, table.tex, "
                  "table.csv, demo.png, figures/, ratings/", soft_wrap=True, highlight=False)
    return 1 if result.summary.failed else 0
