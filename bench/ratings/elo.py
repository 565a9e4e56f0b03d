"""Online Elo (the paper's ELO-K32) and its spread over permutations of the vote order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.ratings.battles import model_names, score_a

ELO_SCALE = 400.0
ELO_BASE = 10.0
INITIAL_RATING = 1000.0


def online_elo(
    battles: pd.DataFrame,
    k: float = 32.0,
    initial: float = INITIAL_RATING,
    models: list[str] | None = None,
) -> pd.Series:
    """Sequential Elo over the battles in the order given (the paper's ELO-K32 with ``k=32``).

    For each battle E_A = 1 / (1 + 10^((R_B − R_A)/400)); R_A += k·(S_A − E_A); R_B −= k·(S_A − E_A),
    with S_A = 1 (A wins), 0 (B wins), 0.5 (tie or both bad).

    Args:
        battles: normalised battles table in logged order.
        k: the update step (32 for the paper's number).
        initial: every model's starting rating.
        models: names to report (models without battles keep ``initial``); defaults to those present.

    Returns:
        Ratings indexed by model name.
    """
    models = list(models) if models is not None else model_names(battles)
    rating = dict.fromkeys(models, float(initial))
    scores = score_a(battles["winner"])
    for a, b, s in zip(battles["model_a"], battles["model_b"], scores, strict=True):
        ra, rb = rating[a], rating[b]
        expected_a = 1.0 / (1.0 + ELO_BASE ** ((rb - ra) / ELO_SCALE))
        delta = k * (s - expected_a)
        rating[a] = ra + delta
        rating[b] = rb - delta
    return pd.Series(rating, name="elo").reindex(models)


def permutation_orders(n: int, permutations: int, seed: int = 0) -> np.ndarray:
    """The vote orders :func:`elo_over_permutations` uses: (permutations, n) int32, row p a permutation."""
    rng = np.random.default_rng(seed)
    orders = np.tile(np.arange(n, dtype=np.int32), (permutations, 1))
    return rng.permuted(orders, axis=1, out=orders)  # in place: one (permutations, n) array in memory


def elo_over_permutations(
    battles: pd.DataFrame,
    permutations: int = 1000,
    k: float = 32.0,
    seed: int = 0,
    initial: float = INITIAL_RATING,
    models: list[str] | None = None,
) -> pd.DataFrame:
    """Online Elo recomputed on seeded random permutations of the vote order.

    Online Elo depends on vote order; this measures how much. All permutations advance together,
    one vote per step, as numpy vectors over the permutations.

    Args:
        battles: normalised battles table.
        permutations: number of shuffled orders.
        k: Elo step.
        seed: seed of the permutations.
        initial: starting rating.
        models: model order; defaults to those present.

    Returns:
        DataFrame (permutations × models) of final ratings; row p is :func:`online_elo` over the
        votes in the order ``permutation_orders(len(battles), permutations, seed)[p]``.
    """
    models = list(models) if models is not None else model_names(battles)
    m = len(models)
    index = {name: i for i, name in enumerate(models)}
    a = battles["model_a"].map(index).to_numpy(dtype=np.int64)
    b = battles["model_b"].map(index).to_numpy(dtype=np.int64)
    outcome = np.rint(2.0 * score_a(battles["winner"])).astype(np.int64)  # 0, 1 (tie), 2
    # One code per vote, so each permuted step needs a single gather: (a·M + b)·3 + outcome.
    code = ((a * m + b) * 3 + outcome).astype(np.int32)
    n = len(battles)
    order = permutation_orders(n, permutations, seed)
    ratings = np.full(permutations * m, float(initial))
    offset = np.arange(permutations, dtype=np.int64) * m
    log_base = np.log(ELO_BASE) / ELO_SCALE
    chunk = max(1, min(n, 2_000_000 // max(permutations, 1)))
    for t0 in range(0, n, chunk):
        steps = code[order[:, t0 : t0 + chunk]].T.astype(np.int64)  # (steps, permutations)
        pair, score2 = np.divmod(steps, 3)
        ia_steps = pair // m + offset
        ib_steps = pair % m + offset
        score_steps = score2 * 0.5
        for ia, ib, s in zip(ia_steps, ib_steps, score_steps, strict=True):
            expected = 1.0 / (1.0 + np.exp((ratings[ib] - ratings[ia]) * log_base))
            delta = k * (s - expected)
            ratings[ia] += delta
            ratings[ib] -= delta
    return pd.DataFrame(ratings.reshape(permutations, m), columns=models)
