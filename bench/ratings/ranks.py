"""Ranks: the paper's ±16 tie band, and rank (UB) from confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

PAPER_TIE_BAND = 16.0


def rank_with_tie_band(ratings: pd.Series, band: float = PAPER_TIE_BAND) -> pd.Series:
    """Rank 1 + the number of models rated more than ``band`` points higher.

    Models within ±``band`` of each other therefore share a rank (the paper's "uncertain" ranks).

    Args:
        ratings: ratings indexed by model.
        band: tie band in rating points (16 in the paper).
    """
    values = ratings.to_numpy(dtype=float)
    better = (values[None, :] > values[:, None] + band).sum(axis=1)
    return pd.Series(1 + better, index=ratings.index, name="rank")


def rank_upper_bound(lower: pd.Series, upper: pd.Series) -> pd.Series:
    """Rank (UB): 1 + the number of models whose lower bound exceeds this model's upper bound.

    Args:
        lower: lower interval bounds indexed by model.
        upper: upper interval bounds, same index.
    """
    lo = lower.reindex(upper.index).to_numpy(dtype=float)
    hi = upper.to_numpy(dtype=float)
    if np.isnan(lo).any() or np.isnan(hi).any():
        return pd.Series(pd.NA, index=upper.index, name="rank_ub", dtype="Int64")
    better = (lo[None, :] > hi[:, None]).sum(axis=1)
    return pd.Series(1 + better, index=upper.index, name="rank_ub")
