"""Drift from stored per-unit values (pure functions; never re-runs a metric).

Start–end contrast (the paper's drift metric): Δ_M(V) = |M(V_start) − M(V_end)|, where V_start is
the first 15 % and V_end the last 15 % of the video. Values are stored per unit (frame, pair,
triplet or window), so the windows are taken over units, at least one unit each: a flow metric's
window is at least one pair (2 frames), an interpolation metric's at least one triplet (3 frames).
M(window) is the mean of the unit values in it.

Per-window curves split the units into n contiguous windows (default 10) for plots.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

GROUP = ["video", "metric", "backend", "version"]
UNIT_KINDS = ("frame", "pair", "triplet", "window")


def window_size(unit_count: int, fraction: float = 0.15) -> int:
    """Units in a start or end window: ceil(fraction · n), at least 1.

    Raises ValueError when fewer than 2 units exist (start and end would be the same unit) or
    `fraction` is not in (0, 0.5].
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    if unit_count < 2:
        raise ValueError(f"start-end contrast needs at least 2 units, got {unit_count}")
    return max(1, math.ceil(fraction * unit_count - 1e-9))


def contrast(values: np.ndarray, fraction: float = 0.15) -> tuple[float, float, float]:
    """(M_start, M_end, |M_start − M_end|) of one ordered sequence of unit values."""
    values = np.asarray(values, dtype=np.float64)
    size = window_size(len(values), fraction)
    start, end = float(values[:size].mean()), float(values[-size:].mean())
    return start, end, abs(start - end)


def window_means(values: np.ndarray, n_windows: int = 10) -> list[tuple[int, int, float]]:
    """Split ordered unit values into `n_windows` contiguous near-equal windows (fewer if too few units).

    Returns [(first unit, last unit, mean), ...].
    """
    values = np.asarray(values, dtype=np.float64)
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}")
    if len(values) == 0:
        raise ValueError("per-window curve needs at least 1 unit value")
    edges = np.linspace(0, len(values), min(n_windows, len(values)) + 1).round().astype(int)
    return [(int(a), int(b) - 1, float(values[a:b].mean())) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _unit_rows(results: pd.DataFrame) -> pd.DataFrame:
    rows = results[results["kind"].isin(UNIT_KINDS)]
    if rows.empty:
        raise ValueError("no per-unit values (frame/pair/triplet/window rows) to compute drift from")
    return rows.sort_values([*GROUP, "index"])


def start_end_contrast(results: pd.DataFrame, fraction: float = 0.15) -> pd.DataFrame:
    """Start–end contrast for every (video, metric, backend, version) in a results table.

    Args:
        results: tidy rows as written by `metrics.evaluate` (per-unit rows are used; score and
            error rows are ignored).
        fraction: the share of the video in each end window (the paper: 0.15).

    Returns:
        DataFrame: video, metric, backend, version, kind, units, window_units, start, end, delta.
    """
    out = []
    for key, group in _unit_rows(results).groupby(GROUP, sort=False):
        start, end, delta = contrast(group["value"].to_numpy(), fraction)
        out.append({**dict(zip(GROUP, key, strict=True)), "kind": group["kind"].iloc[0], "units": len(group),
                    "window_units": window_size(len(group), fraction), "start": start, "end": end,
                    "delta": delta})
    return pd.DataFrame(out)


def window_curves(results: pd.DataFrame, n_windows: int = 10) -> pd.DataFrame:
    """Per-window means for every (video, metric, backend, version): one row per window.

    Returns:
        DataFrame: video, metric, backend, version, kind, window, first_unit, last_unit, position
        (window centre as a fraction of the video, 0..1), value.
    """
    out = []
    for key, group in _unit_rows(results).groupby(GROUP, sort=False):
        units = len(group)
        for window, (first, last, mean) in enumerate(window_means(group["value"].to_numpy(), n_windows)):
            out.append({**dict(zip(GROUP, key, strict=True)), "kind": group["kind"].iloc[0], "window": window,
                        "first_unit": first, "last_unit": last, "position": (first + last + 1) / (2 * units),
                        "value": mean})
    return pd.DataFrame(out)
