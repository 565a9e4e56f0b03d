"""One look for every figure of the suite: matplotlib (Agg) settings, colours, and saving.

Every figure is written as PNG and PDF, each atomically and with the permissions of every other
result file (`bench.atomic_files.atomic_write`), by `save_figure`. Rows keep one colour across figures (`row_colours`, in table order);
kernels keep one colour across schedule and order diagrams (`kernel_colour`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.atomic_files import atomic_write  # noqa: E402

FORMATS = ("png", "pdf")
DPI = 150

RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # embed TrueType so PDF text stays text
    "font.family": "DejaVu Sans",
}

# Colour-blind-safe qualitative palette (Okabe–Ito), then tab10 for more rows.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# Kernels are coloured by log compression on one sequential map (k1 dark … k8 light); generated
# frames have their own colour.
GENERATED_COLOUR = "#D55E00"
KERNEL_CMAP = "viridis"
MAX_LOG2_COMPRESSION = 9.0  # k8 = 512 × k1
TAIL_COLOUR = "#BBBBBB"
ZERO_COLOUR = "#EEEEEE"


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply the suite's rcParams inside a `with` block."""
    with matplotlib.rc_context(RC):
        yield


def row_colours(rows: Sequence[str]) -> dict[str, str]:
    """A colour per row, in table order (stable across all figures of a grid)."""
    colours = list(PALETTE) + [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab10").colors]
    return {row: colours[i % len(colours)] for i, row in enumerate(rows)}


def kernel_colour(compression: int) -> str:
    """Colour of a kernel by its compression relative to k1 (k1 = 1, k2 = 8, k4 = 64, k8 = 512), on a
    log scale, so any explicit kernel falls between the named levels."""
    import math

    level = min(math.log2(max(compression, 1)) / MAX_LOG2_COMPRESSION, 1.0)
    return matplotlib.colors.to_hex(plt.get_cmap(KERNEL_CMAP)(0.1 + 0.8 * level))


def save_figure(figure: Figure, stem: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write `figure` as stem.png and stem.pdf (atomically each) and close it.

    Args:
        figure: the matplotlib figure.
        stem: target path without suffix; its folder is created.
        formats: file formats (default PNG and PDF).

    Returns:
        The written paths, in `formats` order.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            atomic_write(target, lambda stream, fmt=fmt: figure.savefig(
                stream, format=fmt, metadata=_metadata(fmt), dpi=DPI, bbox_inches="tight"))
            written.append(target)
    finally:
        plt.close(figure)
    return written


def _metadata(fmt: str) -> dict[str, object]:
    # No timestamps, so re-running gives the same PDF bytes (clean git diffs of results/).
    if fmt == "pdf":
        return {"Creator": "framepack-bench", "Producer": "framepack-bench", "CreationDate": None}
    if fmt == "png":
        return {"Software": "framepack-bench"}
    return {}


def cap_percent_axis(axis) -> None:
    """Stop a percent axis at 100 % (confidence bands may reach past it; scores cannot)."""
    bottom, top = axis.get_ylim()
    if top > 100.0:
        axis.set_ylim(bottom, 100.0 + 0.02 * (100.0 - bottom))


def slug(text: str) -> str:
    """A file-name-safe version of a row or schedule name."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
    while "--" in safe:
        safe = safe.replace("--", "-")
    return safe.strip("-") or "figure"
