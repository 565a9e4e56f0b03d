"""`fpbench run GRID`: generate and measure every unfinished run of a grid, then print its table."""

from __future__ import annotations

import argparse

from bench.cli._grid_args import add_executor_arguments, add_grid_arguments, report_skipped


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run a grid (resumes: finished runs are skipped)",
        description="Validate GRID, then generate and measure every run not yet finished in the run "
                    "store. A killed grid resumes where it stopped; failed runs record a traceback and "
                    "are retried on the next run.")
    add_grid_arguments(parser)
    add_executor_arguments(parser)
    parser.add_argument("--results", default="results", metavar="DIR",
                        help="where the table goes: DIR/<grid>/ (default results)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-table", action="store_true", help="do not build the table afterwards")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bench.cli._table_output import print_tables
    from bench.executors import make_executor, run_grid
    from bench.grid import load_and_resolve
    from bench.run_store import RunStore
    from bench.tables import write_tables

    grid = load_and_resolve(args.grid, args.overrides, skip_missing=args.skip_missing)
    console = Console()
    report_skipped(grid, console)
    for name, reason in grid.unavailable_metrics.items():
        console.print(f"[yellow]warning[/]: metric {name!r} cannot run here and will be recorded as missing: {reason}")
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address,
                             num_cpus=grid.spec.resources.num_cpus, num_gpus=grid.spec.resources.num_gpus)
    store = RunStore(args.store or grid.spec.store)
    summary = run_grid(grid, store_root=str(store.root), executor=executor, progress=not args.no_progress)
    counts = ", ".join(f"{n} {state}" for state, n in summary.counts.items())
    console.print(f"grid {grid.name}: {summary.total} runs ({counts}) in {summary.seconds:.1f} s; store {store.root}")
    for outcome in summary.failed:
        console.print(f"[red]failed[/] {outcome.row_name} {outcome.key}: {outcome.error} "
                      f"(traceback: {store.run_dir(outcome.key) / 'traceback.txt'})")
    if not args.no_table:
        tables = write_tables(grid, store, out_root=args.results)
        print_tables(console, tables["summary"], grid.name, tables["results"].missing)
        console.print(f"saved {tables['paths']['md'].parent}/ (table.md, table.tex, table.csv, "
                      "summary/scores/values.parquet)", soft_wrap=True, highlight=False)
    return 1 if summary.failed else 0
