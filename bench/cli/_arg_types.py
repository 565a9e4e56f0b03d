"""Argument types shared by the subcommands: a bad value is named, with what was expected, by
argparse's usual one-line error (exit status 2, no traceback)."""

from __future__ import annotations

import argparse


def seed(text: str) -> int:
    """A random seed: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be a non-negative integer, got {value}; any of 0, 1, 2, ... "
                                         "gives a different, reproducible result")
    return value
