"""Descriptive tables of a vote set: battle counts, win rates, tie rates, position bias, annotators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.ratings.battles import model_names, score_a


def battle_count_matrix(battles: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """Symmetric matrix of how many battles each model pair had."""
    models = list(models) if models is not None else model_names(battles)
    idx = {m: k for k, m in enumerate(models)}
    counts = np.zeros((len(models), len(models)))
    np.add.at(counts, (battles["model_a"].map(idx), battles["model_b"].map(idx)), 1.0)
    counts = counts + counts.T
    return pd.DataFrame(counts.astype(int), index=models, columns=models)


def win_rate_matrix(battles: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """Row model's win rate against the column model (ties and both-bad count 0.5); NaN if unplayed."""
    models = list(models) if models is not None else model_names(battles)
    idx = {m: k for k, m in enumerate(models)}
    a = battles["model_a"].map(idx).to_numpy()
    b = battles["model_b"].map(idx).to_numpy()
    s = score_a(battles["winner"])
    points = np.zeros((len(models), len(models)))
    np.add.at(points, (a, b), s)
    np.add.at(points, (b, a), 1.0 - s)
    games = battle_count_matrix(battles, models).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games > 0, points / np.where(games > 0, games, 1.0), np.nan)
    return pd.DataFrame(rate, index=models, columns=models)


def outcome_rates(battles: pd.DataFrame) -> dict[str, float]:
    """Share of ties and of both-bad votes among all battles (NaN when there are none)."""
    n = len(battles)
    if n == 0:
        return {"battles": 0, "tie_rate": float("nan"), "both_bad_rate": float("nan")}
    return {
        "battles": n,
        "tie_rate": float((battles["winner"] == "tie").mean()),
        "both_bad_rate": float((battles["winner"] == "tie (bothbad)").mean()),
    }


def left_side_win_rate(battles: pd.DataFrame) -> dict[str, float]:
    """Position bias: among decisive votes whose sides are known, the share won by the left video.

    0.5 means no bias. NaN when no row records ``a_on_left``.
    """
    known = battles[battles["a_on_left"].notna() & battles["winner"].isin(["model_a", "model_b"])]
    if known.empty:
        return {"decisive_with_side": 0, "left_win_rate": float("nan")}
    left_won = (known["winner"] == "model_a") == known["a_on_left"].astype(bool)
    return {"decisive_with_side": int(len(known)), "left_win_rate": float(left_won.mean())}


def per_annotator_counts(battles: pd.DataFrame) -> pd.DataFrame:
    """Votes per annotator: total, regular, gold, and whether the annotator is simulated."""
    grouped = battles.groupby("judge", sort=True)
    table = pd.DataFrame(
        {
            "votes": grouped.size(),
            "regular": grouped["kind"].apply(lambda k: int((k == "regular").sum())),
            "gold": grouped["kind"].apply(lambda k: int((k != "regular").sum())),
            "simulated": grouped["simulated"].any(),
        }
    )
    table.index.name = "judge"
    return table.reset_index()
