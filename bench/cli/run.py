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
    parser.add_argument("--dry-run", action="store_true",
                        help="run nothing: list every file the grid needs (generator weights, checkpoints, the "
                             "prompt file, metric weights) and which are missing; exit 1 if any is missing")
    parser.set_defaults(func=main)


def dry_run(args: argparse.Namespace) -> int:
    """List the grid's files and whether each is here; when all are, validate the grid fully."""
    from rich.console import Console

    from bench.grid import load_and_resolve
    from bench.grid.requirements import grid_requirements
    from bench.grid.resolve import load_grid

    console = Console(highlight=False)
    spec = load_grid(args.grid, args.overrides)
    needed = grid_requirements(spec)
    # One entry per file, with every row that needs it (rows often share a weights folder).
    by_path: dict[str, list] = {}
    for item in needed:
        by_path.setdefault(item.path, []).append(item)
    console.print(f"grid {spec.name} ({args.grid}) needs {len(by_path)} files:")
    for path, items in by_path.items():
        owners = ", ".join(dict.fromkeys(item.needed_by for item in items))
        state, style = ("present", "green") if items[0].present else ("MISSING", "red")
        source = f"  <- {items[0].source}" if items[0].source else ""
        console.print(f"  {state:7s} {path}", style=style, markup=False)
        console.print(f"          for {owners}{source}", markup=False, style="dim")
    missing = [path for path, items in by_path.items() if not items[0].present]
    if missing:
        console.print(f"{len(missing)} of {len(by_path)} files missing: the grid cannot run on this machine. "
                      "Place each file where listed (docs/full-scale.md says where each comes from); "
                      "nothing is downloaded at run time.", style="red", markup=False)
        return 1
    grid = load_and_resolve(args.grid, args.overrides)
    console.print(f"every file is present: grid {grid.name} is ready ({len(grid.runs)} runs); nothing was run.",
                  markup=False)
    return 0


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from bench.cli._table_output import print_tables
    from bench.executors import make_executor, run_grid
    from bench.grid import load_and_resolve
    from bench.run_store import RunStore
    from bench.tables import write_tables

    if args.dry_run:
        return dry_run(args)
    grid = load_and_resolve(args.grid, args.overrides, skip_missing=args.skip_missing)
    console = Console()
    report_skipped(grid, console)
    for name, reason in grid.unavailable_metrics.items():
        console.print(f"[yellow]warning[/]: metric {name!r} cannot run here and will be recorded as missing: {escape(str(reason))}")
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address,
                             num_cpus=grid.spec.resources.num_cpus, num_gpus=grid.spec.resources.num_gpus)
    store = RunStore(args.store or grid.spec.store)
    summary = run_grid(grid, store_root=str(store.root), executor=executor, progress=not args.no_progress)
    counts = ", ".join(f"{n} {state}" for state, n in summary.counts.items())
    console.print(f"grid {grid.name}: {summary.total} runs ({counts}) in {summary.seconds:.1f} s; store {store.root}")
    for outcome in summary.failed:
        console.print(f"[red]failed[/] {escape(outcome.row_name)} {outcome.key}: {escape(str(outcome.error))} "
                      f"(traceback: {store.run_dir(outcome.key) / 'traceback.txt'})")
    if not args.no_table:
        tables = write_tables(grid, store, out_root=args.results)
        print_tables(console, tables["summary"], grid.name, tables["results"].missing)
        console.print(f"saved {tables['paths']['md'].parent}/ (table.md, table.tex, table.csv, "
                      "summary/scores/values.parquet)", soft_wrap=True, highlight=False)
    return 1 if summary.failed else 0
