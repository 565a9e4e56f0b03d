"""Arguments shared by the grid subcommands (run, status, table, demo)."""

from __future__ import annotations

import argparse


def add_grid_arguments(parser: argparse.ArgumentParser, grid_required: bool = True) -> None:
    """GRID, --set key=value (repeatable) and --store DIR."""
    if grid_required:
        parser.add_argument("grid", metavar="GRID", help="grid YAML file (e.g. grids/demo.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a grid value, e.g. --set prompts.count=2 --set rows.0.params.steps=8")
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="run store folder (default: the grid's `store:`, usually runs/)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="leave out rows whose checkpoint is missing (listed loudly) instead of failing")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """--executor, --jobs and --address (run, demo)."""
    parser.add_argument("--executor", choices=["local", "process", "ray"], default="local",
                        help="local: in this process (a process pool when --jobs > 1); process: a "
                             "process pool; ray: Ray tasks (default: local)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel runs for local/process (default 1)")
    parser.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")


def report_skipped(grid, console) -> None:
    """Say loudly which rows were left out by --skip-missing."""
    for name, reason in grid.skipped_rows.items():
        console.print(f"[yellow]skipped row[/] {name}: {reason}", markup=True, highlight=False)


def add_end_to_end_arguments(parser: argparse.ArgumentParser, results_help: str) -> None:
    """--results, --no-rating and --no-progress, for the commands that run a grid end to end
    (`fpbench demo`, `fpbench study`)."""
    parser.add_argument("--results", default="results", metavar="DIR", help=results_help)
    parser.add_argument("--no-rating", action="store_true", help="skip the simulated-judge rating rounds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
