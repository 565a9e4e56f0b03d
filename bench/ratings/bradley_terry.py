"""Bradley–Terry maximum likelihood on the Elo scale, with a vectorised bootstrap.

Model: P(i beats j) = σ(ln10·(r_i − r_j)/400); a tie or a both-bad vote counts as half a win for
each side. The fit works on the aggregated pair counts (never on single votes), by batched Newton
steps, so one call fits many bootstrap replicas at once. The bootstrap resamples votes with
replacement, which is exactly a multinomial draw of the per-pair (win, loss, tie) cell counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.ratings.battles import PairCounts
from bench.ratings.elo import ELO_BASE, ELO_SCALE, INITIAL_RATING

# A weak Gaussian prior on the log-odds strengths (precision 0.01, i.e. σ = 10 log-odds units):
# it keeps a model that won or lost every battle finite and makes the solution unique even on a
# disconnected graph, while moving ratings by well under a point for any real study size.
DEFAULT_RIDGE = 0.01
LOG_ODDS_PER_POINT = np.log(ELO_BASE) / ELO_SCALE


@dataclass(frozen=True)
class BradleyTerryFit:
    """Point estimate and bootstrap distribution of Bradley–Terry ratings."""

    ratings: pd.Series  # MLE on the Elo scale, mean INITIAL_RATING
    bootstrap: pd.DataFrame  # rounds × models
    lower: pd.Series  # 2.5th percentile of the bootstrap (for 95 % intervals)
    upper: pd.Series  # 97.5th percentile

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"bt": self.ratings, "bt_lower": self.lower, "bt_upper": self.upper}
        )


def fit_log_strengths(
    i: np.ndarray,
    j: np.ndarray,
    wins: np.ndarray,
    totals: np.ndarray,
    n_models: int,
    ridge: float,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> np.ndarray:
    """Newton's method for many count vectors at once.

    Args:
        i, j: (Q,) model indices of each pair.
        wins: (R, Q) wins of i over j (ties as 0.5).
        totals: (R, Q) battles of each pair.
        n_models: M.
        ridge: prior precision on the log-odds strengths.

    Returns:
        (R, M) log-odds strengths, each row summing to zero.
    """
    rounds = wins.shape[0]
    m = n_models
    theta = np.zeros((rounds, m))
    incidence = np.zeros((len(i), m))
    incidence[np.arange(len(i)), i] = 1.0
    incidence[np.arange(len(i)), j] = -1.0
    abs_incidence = np.abs(incidence)
    off_ij = i * m + j
    off_ji = j * m + i
    diag = np.arange(m) * (m + 1)
    # The likelihood only sees differences: adding 11ᵀ/m to the Hessian fixes the free mean at zero
    # without changing the step within the sum-zero subspace (where gradients live).
    eye = ridge * np.eye(m) + np.full((m, m), 1.0 / m)
    for _ in range(max_iter):
        d = theta[:, i] - theta[:, j]
        p = 1.0 / (1.0 + np.exp(-d))
        grad = (wins - totals * p) @ incidence - ridge * theta
        v = totals * p * (1.0 - p)
        # Negative Hessian: the weighted graph Laplacian plus the prior.
        neg_hess = np.zeros((rounds, m * m))
        neg_hess[:, off_ij] = -v
        neg_hess[:, off_ji] = -v
        neg_hess[:, diag] = v @ abs_incidence
        neg_hess = neg_hess.reshape(rounds, m, m) + eye
        step = np.linalg.solve(neg_hess, grad[..., None])[..., 0]
        # Damp huge first steps (near-separated data) so Newton cannot overshoot.
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, 5.0 / np.maximum(biggest, 1e-300))
        theta += step
        theta -= theta.mean(axis=1, keepdims=True)
        if biggest.max() < tol:
            break
    return theta


def fit_bradley_terry(
    counts: PairCounts,
    bootstrap: int = 1000,
    seed: int = 0,
    ridge: float = DEFAULT_RIDGE,
    chunk: int = 250,
) -> BradleyTerryFit:
    """Bradley–Terry MLE with bootstrap 95 % intervals.

    Args:
        counts: per-pair counts from :func:`bench.ratings.battles.count_pairs`.
        bootstrap: number of bootstrap rounds (0 gives empty intervals: NaN).
        seed: seed of the bootstrap draws.
        ridge: prior precision on log-odds strengths (see ``DEFAULT_RIDGE``); 0 gives the plain
            MLE, which exists only on a connected graph where no model won or lost everything.
        chunk: bootstrap rounds solved per batch (bounds memory at chunk·M² floats).

    Returns:
        A :class:`BradleyTerryFit` on the Elo scale (mean rating ``INITIAL_RATING``).
    """
    models = counts.models
    m = len(models)
    wins = counts.wins_i + 0.5 * counts.ties
    point = fit_log_strengths(counts.i, counts.j, wins[None], counts.totals[None], m, ridge)[0]
    to_elo = 1.0 / LOG_ODDS_PER_POINT
    ratings = pd.Series(INITIAL_RATING + point * to_elo, index=models, name="bt")

    samples = np.empty((bootstrap, m))
    if bootstrap > 0:
        cells = np.concatenate([counts.wins_i, counts.wins_j, counts.ties])
        total = int(round(cells.sum()))
        probs = cells / cells.sum()
        rng = np.random.default_rng(seed)
        q = len(counts.i)
        for start in range(0, bootstrap, chunk):
            size = min(chunk, bootstrap - start)
            draw = rng.multinomial(total, probs, size=size).astype(float)
            w_i, w_j, t = draw[:, :q], draw[:, q : 2 * q], draw[:, 2 * q :]
            fitted = fit_log_strengths(counts.i, counts.j, w_i + 0.5 * t, w_i + w_j + t, m, ridge)
            samples[start : start + size] = INITIAL_RATING + fitted * to_elo
    boot = pd.DataFrame(samples, columns=models)
    if bootstrap > 0:
        lower = boot.quantile(0.025)
        upper = boot.quantile(0.975)
    else:
        lower = pd.Series(np.nan, index=models)
        upper = pd.Series(np.nan, index=models)
    return BradleyTerryFit(
        ratings=ratings,
        bootstrap=boot,
        lower=lower.rename("bt_lower"),
        upper=upper.rename("bt_upper"),
    )
