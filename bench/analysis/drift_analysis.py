"""Drift from the stored per-unit values of a grid: per-window curves with confidence bands,
start–end contrast per row, and how metrics correlate across videos.

The per-video math is `metrics.drift` (window means, start–end contrast); this module labels videos
with their row, prompt, seed and length and aggregates over a row's videos.
"""

from __future__ import annotations

import pandas as pd

from bench.tables import mean_ci
from metrics.drift import UNIT_KINDS, start_end_contrast, window_curves

LABELS = ["row", "prompt", "seed", "length"]


def _labels(values: pd.DataFrame) -> pd.DataFrame:
    return values[["video", *LABELS]].drop_duplicates("video")


def _units(values: pd.DataFrame, metrics: list[str] | None) -> pd.DataFrame:
    units = values[values["kind"].isin(UNIT_KINDS)]
    if metrics is not None:
        units = units[units["metric"].isin(metrics)]
    counts = units.groupby(["video", "metric"])["index"].transform("count")
    return units[counts >= 2]


def _aggregate(frame: pd.DataFrame, keys: list[str], column: str, confidence: float) -> pd.DataFrame:
    records = []
    for key, group in frame.groupby(keys, sort=False):
        mean, low, high = mean_ci(group[column].to_numpy(), confidence)
        records.append({**dict(zip(keys, key, strict=True)), "mean": mean, "ci_low": low, "ci_high": high,
                        "n": len(group)})
    return pd.DataFrame(records, columns=[*keys, "mean", "ci_low", "ci_high", "n"])


def row_window_curves(values: pd.DataFrame, metrics: list[str] | None = None, windows: int = 10,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Each row's per-window metric curve: mean over its videos with a Student-t band.

    Args:
        values: values.parquet (per-unit values labelled with row, prompt, seed, length).
        metrics: metrics to include (default: every metric with at least 2 units per video).
        windows: contiguous windows per video (`metrics.drift.window_curves`).
        confidence: level of the band.

    Returns:
        length, row, metric, window, position (window centre as a fraction of the video), mean,
        ci_low, ci_high (NaN with a single video), n (videos).
    """
    units = _units(values, metrics)
    columns = ["length", "row", "metric", "window", "position", "mean", "ci_low", "ci_high", "n"]
    if units.empty:
        return pd.DataFrame(columns=columns)
    curves = window_curves(units, windows).merge(_labels(values), on="video")
    table = _aggregate(curves, ["length", "row", "metric", "window"], "value", confidence)
    positions = curves.groupby(["length", "row", "metric", "window"], sort=False)["position"].mean()
    table["position"] = [positions[tuple(k)] for k in table[["length", "row", "metric", "window"]].to_numpy()]
    return table[columns]


def start_end_table(values: pd.DataFrame, metrics: list[str] | None = None, fraction: float = 0.15,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Start–end contrast per row: mean M(start), M(end) and Δ = |M(start) − M(end)| over the row's videos.

    Returns:
        length, row, metric, start, end, delta (means, as measured), delta_ci_low, delta_ci_high, n.
    """
    units = _units(values, metrics)
    columns = ["length", "row", "metric", "start", "end", "delta", "delta_ci_low", "delta_ci_high", "n"]
    if units.empty:
        return pd.DataFrame(columns=columns)
    # A video's metric may hold several backends/versions; like the harness, average their contrasts.
    per_video = (start_end_contrast(units, fraction).groupby(["video", "metric"], as_index=False)
                 [["start", "end", "delta"]].mean().merge(_labels(values), on="video"))
    keys = ["length", "row", "metric"]
    delta = _aggregate(per_video, keys, "delta", confidence).rename(
        columns={"mean": "delta", "ci_low": "delta_ci_low", "ci_high": "delta_ci_high"})
    ends = per_video.groupby(keys, sort=False, as_index=False)[["start", "end"]].mean()
    return ends.merge(delta, on=keys)[columns]


def metric_correlations(scores: pd.DataFrame, value: str = "score", method: str = "spearman") -> pd.DataFrame:
    """Correlation between metrics across every video of the grid (one value per run and metric).

    Args:
        scores: scores.parquet.
        value: "score" (video scores) or "drift" (start–end contrasts).
        method: "spearman", "pearson" or "kendall".

    Returns:
        A metrics × metrics correlation matrix.
    """
    if value not in ("score", "drift"):
        raise ValueError(f"value must be 'score' or 'drift', got {value!r}")
    if method not in ("spearman", "pearson", "kendall"):
        raise ValueError(f"unknown correlation method {method!r}; expected spearman, pearson or kendall")
    wide = scores.pivot_table(index="key", columns="metric", values=value, aggfunc="mean")
    metrics = list(dict.fromkeys(scores["metric"]))
    return wide.reindex(columns=[m for m in metrics if m in wide.columns]).corr(method=method)
