"""Krippendorff's α: agreement for any number of annotators per item, with a bootstrap interval.

α = 1 − D_o / D_e, from the coincidence matrix of the values annotators gave the same item
(Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011). For A/B votes the values are
ordinal — A better / tie / B better — so disagreeing A against B costs more than A against tie.
Items with one vote carry no pairable value and are left out.
"""

from __future__ import annotations

import numpy as np

METRICS = ("nominal", "ordinal", "interval")


def _distances(marginals: np.ndarray, metric: str) -> np.ndarray:
    """δ²(c, k) for categories in their order; ``marginals`` (…, C) are the value totals n_c."""
    c = marginals.shape[-1]
    idx = np.arange(c)
    if metric == "nominal":
        return np.broadcast_to((idx[:, None] != idx[None, :]).astype(float), (*marginals.shape[:-1], c, c))
    if metric == "interval":
        return np.broadcast_to(((idx[:, None] - idx[None, :]) ** 2).astype(float), (*marginals.shape[:-1], c, c))
    if metric == "ordinal":
        cum = np.cumsum(marginals, axis=-1)
        lo, hi = np.minimum(idx[:, None], idx[None, :]), np.maximum(idx[:, None], idx[None, :])
        # Σ_{g=lo}^{hi} n_g − (n_lo + n_hi)/2
        between = cum[..., hi] - cum[..., lo] + marginals[..., lo]
        return (between - (marginals[..., lo] + marginals[..., hi]) / 2.0) ** 2
    raise ValueError(f"unknown Krippendorff metric {metric!r}; expected one of {list(METRICS)}")


def unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """(U, C, C) coincidences of each item: value pairs from different annotators, / (m_u − 1)."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    pairs = counts[:, :, None] * counts[:, None, :] - np.einsum("uc,cd->ucd", counts, np.eye(counts.shape[1]))
    return pairs / np.maximum(m - 1.0, 1.0)[:, None, None] * (m >= 2)[:, None, None]


def alpha_from_coincidences(coincidences: np.ndarray, metric: str = "ordinal") -> np.ndarray:
    """α for one (C, C) or many (B, C, C) coincidence matrices; NaN where no disagreement is possible."""
    o = np.asarray(coincidences, dtype=float)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    delta = _distances(n_c, metric)
    observed = (o * delta).sum(axis=(-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * delta).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def krippendorff_alpha(counts: np.ndarray, metric: str = "ordinal", bootstrap: int = 0,
                       seed: int = 0) -> dict[str, float]:
    """Krippendorff's α from per-item value counts, with a 95 % bootstrap interval over items.

    Args:
        counts: (items, categories) how many annotators gave each value to each item; the
            category order is the value order (for ordinal and interval metrics).
        metric: "nominal", "ordinal" or "interval".
        bootstrap: resamples of the items (with replacement) for the interval; 0 skips it.
        seed: seed of the resampling.

    Returns:
        ``alpha`` and ``lower``/``upper`` (NaN without bootstrap or when undefined).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown Krippendorff metric {metric!r}; expected one of {list(METRICS)}")
    per_unit = unit_coincidences(counts)
    alpha = float(alpha_from_coincidences(per_unit.sum(axis=0), metric))
    lower = upper = float("nan")
    units = per_unit.shape[0]
    if bootstrap > 0 and units > 1 and np.isfinite(alpha):
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(units, np.full(units, 1.0 / units), size=bootstrap).astype(float)
        replicas = alpha_from_coincidences(
            (weights @ per_unit.reshape(units, -1)).reshape(bootstrap, *per_unit.shape[1:]), metric)
        replicas = replicas[np.isfinite(replicas)]
        if len(replicas):
            lower, upper = (float(q) for q in np.quantile(replicas, [0.025, 0.975]))
    return {"alpha": alpha, "lower": lower, "upper": upper}
