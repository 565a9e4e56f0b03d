"""Online Elo (ELO-K32) and its permutation spread."""

import numpy as np
import pandas as pd
import pytest

from bench.ratings import elo_over_permutations, normalize_battles, online_elo, score_a
from bench.ratings.battles import BattlesError
from bench.ratings.elo import permutation_orders
from bench.votes.simulate import simulate_battles


def _battles(rows):
    return normalize_battles(pd.DataFrame(rows, columns=["model_a", "model_b", "winner"]))


def test_online_elo_matches_hand_computed_k32_sequence():
    # Worked by hand with E_A = 1/(1+10^((R_B-R_A)/400)), K = 32, start 1000:
    # 1. A beats B: E = 0.5            -> A 1016, B 984
    # 2. A ties C: E_A = 1/(1+10^(-16/400)) = 0.52301 -> delta -0.7363: A 1015.26, C 1000.74
    # 3. C beats B: E_C = 0.52410      -> delta +15.23: C 1015.97, B 968.77
    # 4. B both-bad A (0.5): E_B = 0.4328 -> delta +2.13: B 970.90, A 1013.14
    battles = _battles([("A", "B", "model_a"), ("A", "C", "tie"), ("C", "B", "model_a"), ("B", "A", "tie (bothbad)")])
    elo = online_elo(battles, k=32)
    assert elo["A"] == pytest.approx(1013.14, abs=0.01)
    assert elo["B"] == pytest.approx(970.90, abs=0.01)
    assert elo["C"] == pytest.approx(1015.97, abs=0.01)
    assert elo.sum() == pytest.approx(3000.0)  # zero-sum updates


def test_first_update_is_half_k():
    elo = online_elo(_battles([("x", "y", "model_b")]), k=32)
    assert elo["y"] == pytest.approx(1016.0) and elo["x"] == pytest.approx(984.0)


def test_tie_and_both_bad_both_score_half():
    assert list(score_a(np.array(["model_a", "model_b", "tie", "tie (bothbad)"]))) == [1.0, 0.0, 0.5, 0.5]
    tie = online_elo(_battles([("A", "B", "model_a"), ("A", "B", "tie")]))
    both_bad = online_elo(_battles([("A", "B", "model_a"), ("A", "B", "tie (bothbad)")]))
    pd.testing.assert_series_equal(tie, both_bad)


def test_online_elo_depends_on_vote_order():
    rows = [("A", "B", "model_a")] * 5 + [("A", "B", "model_b")] * 5
    forward = online_elo(_battles(rows))
    backward = online_elo(_battles(rows[::-1]))
    assert forward["A"] < 1000 < backward["A"]  # the last votes weigh most


def test_logged_order_follows_tstamp():
    frame = pd.DataFrame({
        "model_a": ["A", "A"], "model_b": ["B", "B"], "winner": ["model_b", "model_a"], "tstamp": [2.0, 1.0],
    })
    assert list(normalize_battles(frame)["winner"]) == ["model_a", "model_b"]


def test_each_permutation_row_is_online_elo_in_that_order():
    battles = normalize_battles(simulate_battles({"a": 1100, "b": 1000, "c": 900}, 60, seed=3, tie_rate=0.2))
    perms = elo_over_permutations(battles, permutations=7, k=32, seed=11)
    orders = permutation_orders(len(battles), 7, seed=11)
    for p in range(7):
        expected = online_elo(battles.iloc[orders[p]], k=32, models=list(perms.columns))
        np.testing.assert_allclose(perms.iloc[p].to_numpy(), expected.to_numpy(), atol=1e-9)


def test_permutation_spread_is_seeded_and_brackets_true_order():
    battles = normalize_battles(simulate_battles({"a": 1100, "b": 1000}, 200, seed=1))
    first = elo_over_permutations(battles, permutations=50, seed=5)
    again = elo_over_permutations(battles, permutations=50, seed=5)
    other = elo_over_permutations(battles, permutations=50, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert first["a"].std() > 1.0  # order noise is real


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("A", "B", "left")], "unknown winner"),
        ([("A", "A", "model_a")], "itself"),
    ],
)
def test_malformed_battles_are_rejected_with_the_bad_value(rows, message):
    with pytest.raises(BattlesError, match=message):
        _battles(rows)


def test_missing_columns_are_named():
    with pytest.raises(BattlesError, match="winner"):
        normalize_battles(pd.DataFrame({"model_a": ["A"], "model_b": ["B"]}))
