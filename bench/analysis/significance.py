"""Significance of differences between table rows, paired over the same videos.

Two rows of a grid are measured on the same (prompt, seed, length) items, so their difference is
judged per item: the mean paired difference with a bootstrap interval, a sign-flip permutation test
(exact for up to `EXACT_LIMIT` items) and a paired t-test, with Holm's correction across the rows
compared against one baseline.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

PAIR_KEYS = ["prompt", "seed", "length"]
EXACT_LIMIT = 12


def paired_values(scores: pd.DataFrame, metric: str, row_a: str, row_b: str, value: str = "score") -> pd.DataFrame:
    """Items both rows were measured on: columns prompt, seed, length, a, b (row_a's and row_b's value).

    Args:
        scores: scores.parquet (row, prompt, seed, length, metric, score, drift).
        metric: the metric.
        row_a, row_b: the two rows.
        value: "score" (the video score) or "drift" (the start–end contrast).
    """
    if value not in ("score", "drift"):
        raise ValueError(f"value must be 'score' or 'drift', got {value!r}")
    part = scores[scores["metric"] == metric]
    known = set(part["row"])
    for row in (row_a, row_b):
        if row not in known:
            raise ValueError(f"row {row!r} has no {metric!r} scores; rows: {sorted(known)}")
    a = part[part["row"] == row_a].set_index(PAIR_KEYS)[value].rename("a")
    b = part[part["row"] == row_b].set_index(PAIR_KEYS)[value].rename("b")
    return pd.concat([a, b], axis=1, join="inner").dropna().reset_index()


def bootstrap_mean_ci(samples: np.ndarray, rounds: int = 2000, seed: int = 0,
                      confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (NaN for fewer than 2 samples)."""
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = samples[rng.integers(0, len(samples), (rounds, len(samples)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def sign_flip_pvalue(differences: np.ndarray, rounds: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of "the mean paired difference is 0" by flipping signs of the differences.

    Exact (all 2^n sign patterns) for n <= EXACT_LIMIT, else `rounds` seeded random patterns with
    the (k + 1) / (rounds + 1) estimate. NaN for no samples.
    """
    differences = np.asarray(differences, dtype=np.float64)
    n = len(differences)
    if n == 0:
        return math.nan
    observed = abs(differences.mean())
    tolerance = 1e-12 * max(1.0, observed)
    if n <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ differences / n)
        return float((means >= observed - tolerance).mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(rounds, n))
    extreme = int((np.abs(signs @ differences / n) >= observed - tolerance).sum())
    return (extreme + 1) / (rounds + 1)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    pvalues = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full_like(pvalues, np.nan)
    valid = np.flatnonzero(~np.isnan(pvalues))
    order = valid[np.argsort(pvalues[valid])]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def compare_rows(scores: pd.DataFrame, metric: str, baseline: str, value: str = "score",
                 rounds: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every other row against `baseline` on one metric, paired over shared items.

    Args:
        scores: scores.parquet.
        metric: the metric.
        baseline: the reference row (e.g. the released inverted anti-drifting schedule).
        value: "score" or "drift".
        rounds: bootstrap rounds (and permutation rounds beyond the exact limit).
        seed: seed of bootstrap and permutations.

    Returns:
        One row per compared row: row, baseline, metric, value, n (shared items), mean_difference
        (row − baseline, as measured), ci_low, ci_high (bootstrap 95 %), p_sign_flip, p_ttest,
        p_holm (Holm over the compared rows, on p_sign_flip).
    """
    rows = [r for r in dict.fromkeys(scores.loc[scores["metric"] == metric, "row"]) if r != baseline]
    records = []
    for row in rows:
        pairs = paired_values(scores, metric, row, baseline, value)
        differences = (pairs["a"] - pairs["b"]).to_numpy()
        low, high = bootstrap_mean_ci(differences, rounds, seed)
        if len(differences) >= 2 and np.ptp(differences) > 0:
            p_ttest = float(stats.ttest_rel(pairs["a"], pairs["b"]).pvalue)
        else:
            p_ttest = math.nan
        records.append({"row": row, "baseline": baseline, "metric": metric, "value": value, "n": len(differences),
                        "mean_difference": float(differences.mean()) if len(differences) else math.nan,
                        "ci_low": low, "ci_high": high, "p_sign_flip": sign_flip_pvalue(differences, rounds * 5, seed),
                        "p_ttest": p_ttest})
    table = pd.DataFrame(records, columns=["row", "baseline", "metric", "value", "n", "mean_difference", "ci_low",
                                           "ci_high", "p_sign_flip", "p_ttest"])
    table["p_holm"] = holm(table["p_sign_flip"].to_numpy()) if len(table) else []
    return table
