"""Drift from stored per-unit values (pure functions; never re-runs a metric).

Start–end contrast (the paper's drift metric): Δ_M(V) = |M(V_start) − M(V_end)|, where V_start is
the first 15 % and V_end the last 15 % of the video. Values are stored per unit (frame, pair,
triplet or window), so the windows are taken over units, at least one unit each: a flow metric's
window is at least one pair (2 frames), an interpolation metric's at least one triplet (3 frames).
M(window) is the mean of the unit values in it.

Video Drift Error (VDE, LV-Bench), a second aggregator that uses the whole curve instead of
both ends: the units are split into N contiguous chunks with means m_1 … m_N, and

    VDE = Σ_{i=2..N} w_i · |m_i − m_1| / |m_1|,   w_i = (i − 1) / Σ_j (j − 1)   (linear)
                                                 w_i = ln i / Σ_j ln j         (log)

so later chunks weigh more (linear) or the weight saturates (log); the weights sum to 1, so a
metric that moved by 10 % of its first-chunk value throughout reads 0.1. VDE is relative to
the first chunk: it is undefined (NaN, never a made-up number) when |m_1| is 0.

Per-window curves split the units into n contiguous windows (default 10) for plots.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

GROUP = ["video", "metric", "backend", "version"]
UNIT_KINDS = ("frame", "pair", "triplet", "window")
VDE_WEIGHTINGS = ("linear", "log")
DEFAULT_VDE_CHUNKS = 10


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


def vde_weights(n_chunks: int, weighting: str = "linear") -> np.ndarray:
    """Weights w_2 … w_N of VDE (they sum to 1); ValueError for an unknown weighting or N < 2."""
    if weighting not in VDE_WEIGHTINGS:
        raise ValueError(f"VDE weighting must be one of {', '.join(VDE_WEIGHTINGS)}, got {weighting!r}")
    if n_chunks < 2:
        raise ValueError(f"VDE needs at least 2 chunks, got {n_chunks}")
    i = np.arange(2, n_chunks + 1, dtype=np.float64)
    raw = i - 1.0 if weighting == "linear" else np.log(i)
    return raw / raw.sum()


def vde(values: np.ndarray, n_chunks: int = DEFAULT_VDE_CHUNKS, weighting: str = "linear") -> float:
    """Video Drift Error of one ordered sequence of unit values (see the module docstring).

    Fewer units than `n_chunks` use one chunk per unit. NaN when the first chunk's mean is 0.
    Raises ValueError for fewer than 2 units.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        raise ValueError(f"VDE needs at least 2 units, got {len(values)}")
    means = np.array([mean for _, _, mean in window_means(values, n_chunks)])
    first = means[0]
    if abs(first) < 1e-12:
        return float("nan")
    return float(np.sum(vde_weights(len(means), weighting) * np.abs(means[1:] - first)) / abs(first))


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


def video_drift_error(results: pd.DataFrame, n_chunks: int = DEFAULT_VDE_CHUNKS,
                      weighting: str = "linear") -> pd.DataFrame:
    """VDE for every (video, metric, backend, version) in a results table (groups with < 2 units skipped).

    Returns:
        DataFrame: video, metric, backend, version, kind, units, chunks, weighting, vde (NaN when
        the first chunk's mean is 0).
    """
    vde_weights(max(2, n_chunks), weighting)  # validate before any work
    out = []
    for key, group in _unit_rows(results).groupby(GROUP, sort=False):
        if len(group) < 2:
            continue
        values = group["value"].to_numpy()
        out.append({**dict(zip(GROUP, key, strict=True)), "kind": group["kind"].iloc[0], "units": len(group),
                    "chunks": min(n_chunks, len(group)), "weighting": weighting,
                    "vde": vde(values, n_chunks, weighting)})
    return pd.DataFrame(out, columns=[*GROUP, "kind", "units", "chunks", "weighting", "vde"])
