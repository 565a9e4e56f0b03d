"""Vote-level checks that complement `bench.ratings`: position bias with a binomial test."""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import binomtest

from bench.ratings import left_side_win_rate


def position_bias(battles: pd.DataFrame) -> dict[str, float]:
    """Share of decisive votes won by the left video, and the two-sided binomial p-value of
    "no bias" (0.5).

    Args:
        battles: a normalised battles table (`bench.ratings.normalize_battles`).

    Returns:
        decisive_with_side (votes with a known side and a winner), left_wins, left_win_rate (NaN when
        no side is known), binomial_p (NaN then too).
    """
    bias = left_side_win_rate(battles)
    count = int(bias["decisive_with_side"])
    if count == 0:
        return {"decisive_with_side": 0, "left_wins": 0, "left_win_rate": math.nan, "binomial_p": math.nan}
    wins = int(round(bias["left_win_rate"] * count))
    return {"decisive_with_side": count, "left_wins": wins, "left_win_rate": float(bias["left_win_rate"]),
            "binomial_p": float(binomtest(wins, count, 0.5).pvalue)}
