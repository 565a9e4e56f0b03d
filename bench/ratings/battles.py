"""The battles table: one row per A/B vote, the input of every rating function.

Shape (FastChat's arena shape plus optional quality-control columns):

=============  =====================================================================
column         meaning
=============  =====================================================================
model_a        name of the first compared row (str)
model_b        name of the second compared row (str)
winner         "model_a" | "model_b" | "tie" | "tie (bothbad)"
judge          annotator name (str; simulated judges are named "simulated-…")
tstamp         seconds since the epoch when the vote was logged (float)
a_on_left      optional bool: model_a was shown on the left (for position bias)
kind           optional "regular" | "gold_broken" | "gold_swap"; only regular rows are rated
item_id        optional study item id
gold_of        optional: for "gold_swap", the item id it repeats with sides swapped
expected_winner optional: for "gold_broken", the winner a careful judge must pick
simulated      optional bool: the vote came from a simulated judge
=============  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
KINDS = ("regular", "gold_broken", "gold_swap")
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")


class BattlesError(ValueError):
    """The battles table does not have the documented shape."""


def normalize_battles(battles: pd.DataFrame) -> pd.DataFrame:
    """Validate a battles table and fill the optional columns with their defaults.

    Args:
        battles: a DataFrame with at least ``model_a``, ``model_b`` and ``winner``.

    Returns:
        A copy in logged order (stable sort by ``tstamp``) with every documented column present:
        ``judge`` defaults to "unknown", ``tstamp`` to the row position, ``a_on_left`` to NA,
        ``kind`` to "regular", ``simulated`` to False.

    Raises:
        BattlesError: a required column is missing or empty in some row, a winner is not one of
            ``WINNERS``, a ``tstamp`` is not a number, a kind is unknown, or a row compares a model
            with itself.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in battles.columns]
    if missing:
        raise BattlesError(f"battles table lacks column(s) {missing}; expected at least {list(REQUIRED_COLUMNS)}")
    df = battles.copy()
    for column in REQUIRED_COLUMNS:
        empty = df[column].isna().to_numpy()
        if empty.any():
            raise BattlesError(
                f"column {column!r} is empty in {int(empty.sum())} row(s) (the first at position "
                f"{int(np.flatnonzero(empty)[0])}, counting from 0); every vote needs model_a, model_b and winner — "
                "fill them in or drop those rows"
            )
    df["model_a"] = df["model_a"].astype(str)
    df["model_b"] = df["model_b"].astype(str)
    df["winner"] = df["winner"].astype(str)
    bad = sorted(set(df["winner"]) - set(WINNERS))
    if bad:
        raise BattlesError(f"unknown winner value(s) {bad}; expected one of {list(WINNERS)}")
    same = df["model_a"] == df["model_b"]
    if same.any():
        first = df.loc[same, "model_a"].iloc[0]
        raise BattlesError(f"{int(same.sum())} battle(s) compare a model with itself (e.g. {first!r})")
    if "judge" not in df.columns:
        df["judge"] = "unknown"
    df["judge"] = df["judge"].fillna("unknown").astype(str)
    if "tstamp" not in df.columns:
        df["tstamp"] = np.arange(len(df), dtype=float)
    df["tstamp"] = _numeric_tstamp(df["tstamp"])
    if "a_on_left" not in df.columns:
        df["a_on_left"] = pd.array([pd.NA] * len(df), dtype="boolean")
    else:
        df["a_on_left"] = df["a_on_left"].astype("boolean")
    if "kind" not in df.columns:
        df["kind"] = "regular"
    df["kind"] = df["kind"].fillna("regular").astype(str)
    bad_kinds = sorted(set(df["kind"]) - set(KINDS))
    if bad_kinds:
        raise BattlesError(f"unknown kind value(s) {bad_kinds}; expected one of {list(KINDS)}")
    if "simulated" not in df.columns:
        df["simulated"] = False
    df["simulated"] = df["simulated"].fillna(False).astype(bool)
    df = df.sort_values("tstamp", kind="stable").reset_index(drop=True)
    return df


def _numeric_tstamp(tstamp: pd.Series) -> pd.Series:
    """``tstamp`` as float seconds, or an error naming the column, the bad value and its row."""
    values = pd.to_numeric(tstamp, errors="coerce").astype(float)
    bad = values.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise BattlesError(
            f"column 'tstamp' holds {int(bad.sum())} value(s) that are not numbers, e.g. {tstamp.iloc[k]!r} "
            f"at position {k} (counting from 0); expected seconds since the epoch (drop the column to rate in file order)"
        )
    return values


def regular_battles(battles: pd.DataFrame) -> pd.DataFrame:
    """The rows that count for ratings: kind == "regular" (gold items only score annotators)."""
    return battles[battles["kind"] == "regular"].reset_index(drop=True)


def score_a(winner: pd.Series | np.ndarray) -> np.ndarray:
    """Model A's score per battle: 1 for a win, 0 for a loss, 0.5 for tie and both-bad."""
    w = np.asarray(winner)
    return np.where(w == "model_a", 1.0, np.where(w == "model_b", 0.0, 0.5))


def model_names(battles: pd.DataFrame) -> list[str]:
    """Sorted names of every model that appears in the battles."""
    return sorted(set(battles["model_a"]) | set(battles["model_b"]))


@dataclass(frozen=True)
class PairCounts:
    """Battles aggregated per unordered model pair (i < j in ``models`` order).

    ``wins_i``/``wins_j``/``ties`` count outright wins of i, of j, and ties (tie or both-bad).
    Bradley–Terry and its bootstrap need only these counts, which is what makes them fast.
    """

    models: list[str]
    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    ties: np.ndarray

    @property
    def totals(self) -> np.ndarray:
        return self.wins_i + self.wins_j + self.ties


def count_pairs(battles: pd.DataFrame, models: list[str] | None = None) -> PairCounts:
    """Aggregate battles into per-pair win/loss/tie counts.

    Args:
        battles: a normalised battles table (see :func:`normalize_battles`).
        models: model order; defaults to :func:`model_names`.
    """
    models = list(models) if models is not None else model_names(battles)
    index = {m: k for k, m in enumerate(models)}
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    s = score_a(battles["winner"])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    m = len(models)
    key = lo * m + hi
    lo_won = ((s == 1.0) & (a == lo)) | ((s == 0.0) & (b == lo))
    hi_won = ((s == 1.0) & (a == hi)) | ((s == 0.0) & (b == hi))
    tied = s == 0.5
    keys = np.unique(key)
    pos = np.searchsorted(keys, key)
    n = len(keys)
    return PairCounts(
        models=models,
        i=keys // m,
        j=keys % m,
        wins_i=np.bincount(pos, weights=lo_won, minlength=n),
        wins_j=np.bincount(pos, weights=hi_won, minlength=n),
        ties=np.bincount(pos, weights=tied, minlength=n),
    )
