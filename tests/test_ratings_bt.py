"""Bradley–Terry MLE, its bootstrap, and ranks."""


import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from bench.ratings import (
    count_pairs,
    fit_bradley_terry,
    normalize_battles,
    rank_upper_bound,
    rank_with_tie_band,
)
from bench.ratings.bradley_terry import LOG_ODDS_PER_POINT
from bench.votes.simulate import simulate_battles

TRUE = {"a": 1150.0, "b": 1060.0, "c": 1000.0, "d": 960.0, "e": 880.0, "f": 950.0}


def _centred(strengths):
    mean = np.mean(list(strengths.values()))
    return {k: v - mean + 1000.0 for k, v in strengths.items()}


def test_bt_matches_direct_likelihood_maximisation_over_single_votes():
    battles = normalize_battles(simulate_battles(TRUE, 3000, seed=2, tie_rate=0.1, both_bad_rate=0.05))
    fit = fit_bradley_terry(count_pairs(battles), bootstrap=0, ridge=0.0)
    models = list(fit.ratings.index)
    idx = {m: i for i, m in enumerate(models)}
    a = battles["model_a"].map(idx).to_numpy()
    b = battles["model_b"].map(idx).to_numpy()
    s = np.where(battles["winner"] == "model_a", 1.0, np.where(battles["winner"] == "model_b", 0.0, 0.5))

    def nll(free):
        theta = np.append(free, -free.sum())  # strengths sum to zero
        d = theta[a] - theta[b]
        return -(s * -np.logaddexp(0, -d) + (1 - s) * -np.logaddexp(0, d)).sum()

    direct = minimize(nll, np.zeros(len(models) - 1), method="BFGS", options={"gtol": 1e-8}).x
    direct = 1000.0 + np.append(direct, -direct.sum()) / LOG_ODDS_PER_POINT
    np.testing.assert_allclose(fit.ratings.to_numpy(), direct, atol=0.05)


def test_bt_recovers_known_strengths_within_its_intervals():
    battles = normalize_battles(simulate_battles(TRUE, 20000, seed=7))
    fit = fit_bradley_terry(count_pairs(battles), bootstrap=500, seed=1)
    truth = pd.Series(_centred(TRUE))
    assert ((fit.lower <= truth[fit.lower.index]) & (truth[fit.upper.index] <= fit.upper)).all(), fit.table()
    assert (fit.ratings - truth[fit.ratings.index]).abs().max() < 20
    assert fit.ratings.mean() == pytest.approx(1000.0)


def test_bootstrap_95_percent_intervals_cover_about_95_percent():
    strengths = {"w": 1100.0, "x": 1030.0, "y": 990.0, "z": 880.0}
    truth = pd.Series(_centred(strengths))
    covered = total = 0
    for dataset in range(60):
        battles = normalize_battles(simulate_battles(strengths, 600, seed=1000 + dataset))
        fit = fit_bradley_terry(count_pairs(battles), bootstrap=300, seed=dataset)
        inside = (fit.lower <= truth[fit.lower.index]) & (truth[fit.upper.index] <= fit.upper)
        covered += int(inside.sum())
        total += len(inside)
    coverage = covered / total
    assert 0.88 <= coverage <= 0.99, coverage


def test_ties_and_both_bad_count_as_half_a_win_in_bt():
    base = [("A", "B", "model_a")] * 6 + [("A", "B", "model_b")] * 2
    with_tie = pd.DataFrame(base + [("A", "B", "tie")] * 4, columns=["model_a", "model_b", "winner"])
    with_both_bad = with_tie.replace("tie", "tie (bothbad)")
    as_halves = pd.DataFrame(base + [("A", "B", "model_a"), ("A", "B", "model_b")] * 2,
                             columns=["model_a", "model_b", "winner"])
    fits = [fit_bradley_terry(count_pairs(normalize_battles(f)), bootstrap=0).ratings
            for f in (with_tie, with_both_bad, as_halves)]
    pd.testing.assert_series_equal(fits[0], fits[1])
    pd.testing.assert_series_equal(fits[0], fits[2])
    # 8 of 12 points to A: P = 2/3 -> A - B = 400·log10(2)
    assert fits[0]["A"] - fits[0]["B"] == pytest.approx(400 * np.log10(2), abs=0.5)


def test_unbeaten_model_gets_a_finite_rating():
    battles = normalize_battles(pd.DataFrame({"model_a": ["A"] * 5, "model_b": ["B"] * 5, "winner": ["model_a"] * 5}))
    fit = fit_bradley_terry(count_pairs(battles), bootstrap=20)
    assert np.isfinite(fit.ratings).all() and fit.ratings["A"] > fit.ratings["B"]


def test_bootstrap_is_deterministic_under_seed():
    counts = count_pairs(normalize_battles(simulate_battles(TRUE, 500, seed=4)))
    pd.testing.assert_frame_equal(fit_bradley_terry(counts, 50, seed=9).bootstrap,
                                  fit_bradley_terry(counts, 50, seed=9).bootstrap)


def test_100k_votes_with_1000_bootstrap_rounds():
    # its speed is measured by `python -m bench.benchmarks.ratings_speed`, not asserted here
    counts = count_pairs(normalize_battles(simulate_battles(
        {f"m{i}": 1000 + 30 * i for i in range(10)}, 100_000, seed=0, tie_rate=0.1)))
    fit = fit_bradley_terry(counts, bootstrap=1000, seed=0)
    assert fit.bootstrap.shape == (1000, 10)
    assert np.isfinite(fit.bootstrap.to_numpy()).all()


def test_rank_with_paper_tie_band():
    ratings = pd.Series({"a": 1100.0, "b": 1090.0, "c": 1070.0, "d": 900.0})
    # b is 10 below a: shares rank 1. c is more than 16 below both a and b: rank 3. d: rank 4.
    assert rank_with_tie_band(ratings, 16).to_dict() == {"a": 1, "b": 1, "c": 3, "d": 4}
    # Within the band on both sides: a chain 1100, 1090, 1080 gives b rank 1 but c rank 2.
    chain = pd.Series({"a": 1100.0, "b": 1090.0, "c": 1080.0})
    assert rank_with_tie_band(chain, 16).to_dict() == {"a": 1, "b": 1, "c": 2}


def test_rank_upper_bound_counts_models_whose_lower_bound_is_above():
    lower = pd.Series({"a": 1050.0, "b": 1000.0, "c": 900.0})
    upper = pd.Series({"a": 1150.0, "b": 1100.0, "c": 990.0})
    assert rank_upper_bound(lower, upper).to_dict() == {"a": 1, "b": 1, "c": 3}
