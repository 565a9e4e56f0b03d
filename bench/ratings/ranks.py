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


def rank_within_components(board: pd.DataFrame, tie_band: float = PAPER_TIE_BAND) -> pd.DataFrame:
    """``rank`` (tie band over ``elo``) and ``rank_ub`` (over ``bt_lower``/``bt_upper``) per component.

    Ratings of rows that were never compared, even indirectly, are not comparable, so each
    connected component of the comparison graph is ranked on its own. A row without an interval
    (NaN bounds, e.g. too few votes) gets no ``rank_ub`` and counts as spanning every rating for
    the others: it neither beats nor is beaten by anyone.

    Args:
        board: one row per model with ``component``, ``elo``, ``bt_lower`` and ``bt_upper``.

    Returns:
        ``board`` with ``rank`` and ``rank_ub`` (nullable Int64) columns set.
    """
    board = board.copy()
    board["rank"] = 0
    board["rank_ub"] = pd.array([pd.NA] * len(board), dtype="Int64")
    for _, group in board.groupby("component", sort=False):
        board.loc[group.index, "rank"] = rank_with_tie_band(group["elo"], tie_band).to_numpy()
        lower = group["bt_lower"].fillna(-np.inf)
        upper = group["bt_upper"].fillna(np.inf)
        ub = rank_upper_bound(lower, upper)
        defined = group["bt_lower"].notna() & group["bt_upper"].notna()
        board.loc[group.index[defined.to_numpy()], "rank_ub"] = ub[defined].astype("Int64").to_numpy()
    return board
