"""The `fpbench` command line.

Each subcommand lives in its own module under `bench/cli/` and exposes
`add_parser(subparsers)`, which registers the subcommand and sets `func` on its
parser. Modules import their heavy dependencies inside `func`, so `fpbench --help`
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Module names under bench.cli, in the order `fpbench --help` lists them.
SUBCOMMAND_MODULES = [
    "generate",
    "train",
    "run",
    "status",
    "table",
    "demo",
    "study",
    "votes",
    "rate",
    "agreement",
    "metrics",
    "weights",
    "world",
    "schedule",
    "figures",
    "bench",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpbench",
        description="FramePack ablation and evaluation suite (lab scale by default).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"bench.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        # Bad input (a config value, a path, missing weights): say what and why, no traceback.
        # Set FPBENCH_DEBUG=1 to see the traceback.
        if os.environ.get("FPBENCH_DEBUG"):
            raise
        print(f"fpbench {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
