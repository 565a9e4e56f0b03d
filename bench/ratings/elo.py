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


# Memory for the permuted vote codes of one chunk of permutations; 1 M votes × 1000 orders would
# need 2-4 GB at once, so permutations run in chunks drawn from one random stream (same numbers).
PERMUTATION_CHUNK_BYTES = 256 * 2**20


def _permuted_chunks(values: np.ndarray, permutations: int, seed: int, chunk: int):
    """Yield ``values`` shuffled once per permutation, ``chunk`` permutations at a time.

    Rows come from one generator in order, and a shuffle's swaps depend only on the length and
    the stream, so the p-th row is the same whatever the chunk size.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, permutations, chunk):
        rows = np.tile(values, (min(chunk, permutations - start), 1))
        yield rng.permuted(rows, axis=1, out=rows)
        del rows  # the caller has dropped it too: one chunk in memory at a time


def permutation_orders(n: int, permutations: int, seed: int = 0) -> np.ndarray:
    """The vote orders :func:`elo_over_permutations` uses: (permutations, n) int32, row p a permutation."""
    return np.concatenate(list(_permuted_chunks(np.arange(n, dtype=np.int32), permutations, seed, permutations)))


def elo_over_permutations(
    battles: pd.DataFrame,
    permutations: int = 1000,
    k: float = 32.0,
    seed: int = 0,
    initial: float = INITIAL_RATING,
    models: list[str] | None = None,
    chunk_bytes: int = PERMUTATION_CHUNK_BYTES,
) -> pd.DataFrame:
    """Online Elo recomputed on seeded random permutations of the vote order.

    Online Elo depends on vote order; this measures how much. Permutations advance together, one
    vote per step, as numpy vectors over a chunk of permutations; chunks keep memory bounded by
    ``chunk_bytes`` (the result does not depend on it).

    Args:
        battles: normalised battles table.
        permutations: number of shuffled orders.
        k: Elo step.
        seed: seed of the permutations.
        initial: starting rating.
        models: model order; defaults to those present.
        chunk_bytes: memory for the permuted votes of one chunk of permutations.

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
    # One code per vote, so each permuted step needs a single read: (a·M + b)·3 + outcome. Shuffling
    # the codes themselves gives code[order] without holding the order.
    code = (a * m + b) * 3 + outcome
    code = code.astype(np.uint16 if m * m * 3 <= np.iinfo(np.uint16).max else np.int32)
    n = len(battles)
    chunk = max(1, min(permutations, chunk_bytes // max(1, n * code.itemsize)))
    result = np.empty((permutations, m))
    log_base = np.log(ELO_BASE) / ELO_SCALE
    done = 0
    for codes in _permuted_chunks(code, permutations, seed, chunk):
        rows = codes.shape[0]
        ratings = np.full(rows * m, float(initial))
        offset = np.arange(rows, dtype=np.int64) * m
        steps_per_block = max(1, min(n, 2_000_000 // rows))
        for t0 in range(0, n, steps_per_block):
            steps = codes[:, t0 : t0 + steps_per_block].T.astype(np.int64)  # (steps, rows)
            pair, score2 = np.divmod(steps, 3)
            ia_steps = pair // m + offset
            ib_steps = pair % m + offset
            score_steps = score2 * 0.5
            for ia, ib, s in zip(ia_steps, ib_steps, score_steps, strict=True):
                expected = 1.0 / (1.0 + np.exp((ratings[ib] - ratings[ia]) * log_base))
                delta = k * (s - expected)
                ratings[ia] += delta
                ratings[ib] -= delta
        result[done : done + rows] = ratings.reshape(rows, m)
        done += rows
        del codes
    return pd.DataFrame(result, columns=models)
