"""`fpbench figures GRID|all`: the paper's figure analogues for a grid (or every grid), as PNG and PDF."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "figures", help="draw a grid's figures (schedules, section orders, drift, samples, tables, ELO)",
        description="Draws, from files on disk: a Figure 1 analogue per schedule (frames, kernels, tokens vs the "
                    "bound), a Figure 2 analogue per sampling order (the sampler's own section plan), the "
                    "context-length plot, and from results/<grid>/ (refreshed from the run store when the grid's "
                    "runs are there) the tables, drift curves with 95 % bands, sample strips and the ELO plots. "
                    "PNG and PDF; figures.json lists what was drawn and why anything was skipped.")
    parser.add_argument("grid", metavar="GRID|all", help="a grid YAML file, or `all` for every grid in --grids")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default RESULTS/<grid>/figures; with `all`, DIR/<grid>)")
    parser.add_argument("--results", default="results", metavar="DIR", help="results root (default results)")
    parser.add_argument("--grids", default="grids", metavar="DIR", help="where `all` looks for grids (default grids)")
    parser.add_argument("--store", default=None, metavar="DIR", help="run store (default: the grid's `store:`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a grid value (single grid only)")
    parser.add_argument("--latent", nargs=2, type=int, default=(8, 8), metavar=("H", "W"),
                        help="latent size for token counts (default 8 8, the lab codec)")
    parser.add_argument("--sections", type=int, default=4, help="sections in the section-order figures (default 4)")
    parser.add_argument("--windows", type=int, default=10, help="windows per video in the drift curves (default 10)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from bench.figures import FigureOptions, all_grids, grid_figures

    console = Console(stderr=True)
    if args.sections < 1 or args.windows < 1:
        raise ValueError(f"--sections and --windows must be >= 1, got {args.sections} and {args.windows}")
    if args.latent[0] < 1 or args.latent[1] < 1:
        raise ValueError(f"--latent must be two positive integers, got {args.latent}")
    options = FigureOptions(latent_hw=(args.latent[0], args.latent[1]), sections=args.sections, windows=args.windows)
    if args.grid == "all":
        if args.overrides:
            raise ValueError("--set applies to one grid; give a grid file instead of `all`")
        grids = all_grids(args.grids)
    else:
        grids = [Path(args.grid)]
    for grid in grids:
        out = None
        if args.out is not None:
            out = Path(args.out) / _grid_name(grid) if args.grid == "all" else Path(args.out)
        with console.status(f"drawing figures of {grid}") as status:
            report = grid_figures(grid, out, args.results, args.store, args.overrides, options,
                                  on_figure=lambda name, g=grid: status.update(f"{g}: drew {name}"))
        console.print(f"[bold]{report.grid}[/]: {len(report.written)} figures (PNG + PDF) in {report.out_dir}/")
        for name in report.written:
            print(report.out_dir / f"{name}.png")
        for name, reason in report.skipped.items():
            console.print(f"  [yellow]not drawn[/] {name}: {reason}", highlight=False)
        for name, text in report.notes.items():
            console.print(f"  [dim]note[/] {name}: {text}", highlight=False)
    return 0


def _grid_name(path) -> str:
    from bench.grid import load_grid

    return load_grid(path).name
