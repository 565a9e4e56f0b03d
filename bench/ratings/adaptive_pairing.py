"""Adaptive pairing: the row pair whose next votes most reduce the uncertainty of the ranking.

A pure function of the per-pair vote counts so far (the vote server only records). It fits
Bradley–Terry to the counts, takes the Laplace covariance of the strengths (the inverse Fisher
information), and looks at the *neighbours* of the current ranking: the difference between rows
ranked k and k + 1 has a z-score d / sd. Each neighbour pair weighs by how unresolved it is,
2·Φ(−z) (1 when the two are indistinguishable, ≈ 0 once their interval is far from zero), and a
candidate pair (i, j) scores the weighted sum of the log-variance reductions one more vote on
(i, j) brings to every neighbour difference (Sherman–Morrison: no refit needed per candidate).
Far-apart rows are not compared once their order is certain; a vote on (i, i + 2) still counts
for both neighbour differences it informs.

Before that, every row gets a floor of votes (least-covered row first), so every row is covered
and the first fit is not built on nothing. Everything is vectorised over many independent studies
at once (the pairing benchmark runs hundreds in lockstep; the server runs one).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from bench.ratings.bradley_terry import DEFAULT_RIDGE, fit_log_strengths


def all_pairs(n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered row pair (i < j), in ``itertools.combinations`` order."""
    i, j = np.triu_indices(n_rows, k=1)
    return i.astype(np.int64), j.astype(np.int64)


def strength_covariance(theta: np.ndarray, totals: np.ndarray, i: np.ndarray, j: np.ndarray,
                        ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """Laplace covariance (S, M, M) of Bradley–Terry log-odds strengths ``theta`` (S, M).

    The inverse of the negative Hessian at ``theta``: the vote-weighted graph Laplacian, plus the
    ridge prior, plus 11ᵀ/M for the free mean (differences, the only thing used, do not see it).
    """
    s, m = theta.shape
    p = 1.0 / (1.0 + np.exp(-(theta[:, i] - theta[:, j])))
    v = totals * p * (1.0 - p)
    neg_hess = np.zeros((s, m, m))
    np.add.at(neg_hess, (slice(None), i, j), -v)
    np.add.at(neg_hess, (slice(None), j, i), -v)
    np.add.at(neg_hess, (slice(None), i, i), v)
    np.add.at(neg_hess, (slice(None), j, j), v)
    neg_hess += ridge * np.eye(m) + 1.0 / m
    return np.linalg.inv(neg_hess)


def neighbour_z(theta: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours of the current ranking and their z-scores.

    Returns:
        ``upper`` (S, M−1) the row ranked k, ``lower`` (S, M−1) the row ranked k + 1, and
        ``z`` (S, M−1) = (θ_upper − θ_lower) / sd of that difference (≥ 0).
    """
    order = np.argsort(-theta, axis=1, kind="stable")
    upper, lower = order[:, :-1], order[:, 1:]
    rows = np.arange(theta.shape[0])[:, None]
    d = theta[rows, upper] - theta[rows, lower]
    var = cov[rows, upper, upper] + cov[rows, lower, lower] - 2.0 * cov[rows, upper, lower]
    return upper, lower, d / np.sqrt(np.maximum(var, 1e-300))


def _floor_keys(played: np.ndarray, i: np.ndarray, j: np.ndarray, row_votes: np.ndarray) -> np.ndarray:
    """(S, Q) floor-phase order, lowest first: pairs holding the least-covered row, least played."""
    key = np.minimum(row_votes[:, i], row_votes[:, j])
    key = key * (played.max() + 1) + played
    return key * (2 * row_votes.max() + 1) + row_votes[:, i] + row_votes[:, j]


class _Uncertainty:
    """The fitted strengths, their covariance and the neighbour pairs of many studies."""

    def __init__(self, wins: np.ndarray, totals: np.ndarray, n_rows: int, ridge: float) -> None:
        self.i, self.j = all_pairs(n_rows)
        self.theta = fit_log_strengths(self.i, self.j, wins, totals, n_rows, ridge)
        self.cov = strength_covariance(self.theta, totals, self.i, self.j, ridge)
        p = 1.0 / (1.0 + np.exp(-(self.theta[:, self.i] - self.theta[:, self.j])))
        self.info = p * (1.0 - p)  # Fisher information of one vote on each pair
        self.upper, self.lower, _ = neighbour_z(self.theta, self.cov)
        rows = np.arange(len(self.theta))[:, None]
        self.d = self.theta[rows, self.upper] - self.theta[rows, self.lower]

    def gains(self, votes: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(S, Q) gain of ``votes`` more votes on each pair; also Σ(e_i − e_j) and var(θ_i − θ_j)."""
        rows = np.arange(len(self.theta))[:, None]
        q = np.arange(len(self.i))
        col = self.cov[:, :, self.i] - self.cov[:, :, self.j]  # (S, M, Q) = Σ (e_i − e_j)
        cross = col[rows, self.upper] - col[rows, self.lower]  # (S, M−1, Q): Cov(neighbour diff, pair diff)
        pair_var = col[:, self.i, q] - col[:, self.j, q]  # (S, Q)
        neighbour_var = np.maximum(self.cov[rows, self.upper, self.upper] + self.cov[rows, self.lower, self.lower]
                                   - 2.0 * self.cov[rows, self.upper, self.lower], 1e-300)
        weight = 2.0 * ndtr(-self.d / np.sqrt(neighbour_var))  # how unresolved each neighbour pair is
        w = votes * self.info
        reduction = (w[:, None, :] * cross**2) / (1.0 + w * pair_var)[:, None, :]
        shrink = np.minimum(reduction / neighbour_var[:, :, None], 1.0 - 1e-12)
        return -(weight[:, :, None] * np.log1p(-shrink)).sum(axis=1), col, pair_var

    def add_votes(self, pair: np.ndarray, votes: np.ndarray) -> None:
        """Sherman–Morrison: the covariance after ``votes`` more votes on ``pair`` of each study."""
        s = np.arange(len(self.theta))
        _, col, pair_var = self.gains(1.0)
        u = col[s, :, pair]  # (S, M)
        w = votes * self.info[s, pair]
        scale = w / (1.0 + w * pair_var[s, pair])
        self.cov = self.cov - scale[:, None, None] * u[:, :, None] * u[:, None, :]


def _row_votes(played: np.ndarray, i: np.ndarray, j: np.ndarray, n_rows: int) -> np.ndarray:
    row_votes = np.zeros((played.shape[0], n_rows))
    np.add.at(row_votes, (slice(None), i), played)
    np.add.at(row_votes, (slice(None), j), played)
    return row_votes


def choose_pairs(
    wins: np.ndarray,
    totals: np.ndarray,
    n_rows: int,
    votes: int = 1,
    floor: int = 0,
    steps: int | None = None,
    ridge: float = DEFAULT_RIDGE,
) -> np.ndarray:
    """Where the next ``votes`` votes of each study should go.

    Args:
        wins: (S, Q) wins of row i over row j per pair of :func:`all_pairs` (ties count 0.5),
            one line per independent study.
        totals: (S, Q) votes per pair so far.
        n_rows: M (Q = M·(M−1)/2).
        votes: votes to place per study (1 for the next item a server shows).
        floor: votes every row gets before the adaptive rule takes over.
        steps: greedy steps the ``votes`` are placed in (default: one per vote, at most 16);
            each step gives its share to the best pair, then updates the covariance.
        ridge: Bradley–Terry prior precision (as in the ratings).

    Returns:
        (S, Q) int: how many of the next votes go to each pair.
    """
    wins = np.asarray(wins, dtype=float)
    totals = np.asarray(totals, dtype=float)
    s = np.arange(totals.shape[0])
    steps = min(votes, 16) if steps is None else max(1, min(steps, votes))
    shares = np.diff(np.linspace(0, votes, steps + 1).round().astype(int))
    alloc = np.zeros(totals.shape, dtype=np.int64)
    state = _Uncertainty(wins, totals, n_rows, ridge)
    for share in shares[shares > 0]:
        played = totals + alloc
        row_votes = _row_votes(played, state.i, state.j, n_rows)
        under_floor = row_votes.min(axis=1) < floor
        gain = state.gains(float(share))[0]
        best = np.where(under_floor, np.argmin(_floor_keys(played, state.i, state.j, row_votes), axis=1),
                        np.argmax(gain, axis=1))
        alloc[s, best] += share
        state.add_votes(best, np.full(len(s), float(share)))
    return alloc


def rank_pairs(wins: np.ndarray, totals: np.ndarray, n_rows: int, floor: int = 0,
               ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """Every pair index of one study (into :func:`all_pairs`), the one to show next first.

    The first entry is where :func:`choose_pairs` puts a single vote; the rest let a server skip
    pairs an annotator has already seen every item of.
    """
    wins = np.asarray(wins, dtype=float)[None]
    totals = np.asarray(totals, dtype=float)[None]
    i, j = all_pairs(n_rows)
    row_votes = _row_votes(totals, i, j, n_rows)
    if row_votes.min() < floor:
        return np.argsort(_floor_keys(totals, i, j, row_votes)[0], kind="stable")
    gain = _Uncertainty(wins, totals, n_rows, ridge).gains(1.0)[0][0]
    return np.argsort(-gain, kind="stable")
