"""Adaptive pairing math: the floor first, then the pair that most reduces the ranking's uncertainty."""

import numpy as np

from bench.ratings.adaptive_pairing import (
    all_pairs,
    choose_pairs,
    neighbour_z,
    rank_pairs,
    strength_covariance,
)
from bench.ratings.bradley_terry import fit_log_strengths

ROWS = 4  # pairs in all_pairs order: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)


def _counts(per_pair):
    """wins, totals from {(i, j): (wins of i, votes)}."""
    i, j = all_pairs(ROWS)
    wins, totals = np.zeros(len(i)), np.zeros(len(i))
    for q, pair in enumerate(zip(i, j, strict=True)):
        wins[q], totals[q] = per_pair.get(tuple(int(x) for x in pair), (0, 0))
    return wins, totals


def test_floor_first_serves_the_least_covered_row():
    wins, totals = _counts({(0, 1): (5, 10), (0, 2): (5, 10), (1, 2): (5, 10)})  # row 3 never shown
    first = rank_pairs(wins, totals, ROWS, floor=5)[0]
    i, j = all_pairs(ROWS)
    assert 3 in (i[first], j[first])


def test_after_the_floor_close_neighbours_get_the_vote_not_settled_pairs():
    # 0 ≫ 1 ≈ 2 ≫ 3, all pairs played 40 times: only the 1–2 order is uncertain.
    wins, totals = _counts({(0, 1): (38, 40), (0, 2): (39, 40), (0, 3): (40, 40), (1, 2): (21, 40),
                            (1, 3): (38, 40), (2, 3): (37, 40)})
    i, j = all_pairs(ROWS)
    best = rank_pairs(wins, totals, ROWS, floor=10)[0]
    assert (i[best], j[best]) == (1, 2)
    alloc = choose_pairs(wins[None], totals[None], ROWS, votes=20, floor=10)
    assert alloc.sum() == 20 and alloc[0, 3] > 10  # most of a batch goes to the close pair


def test_choose_pairs_treats_each_study_on_its_own():
    a = _counts({(0, 1): (20, 40), (1, 2): (39, 40), (2, 3): (39, 40), (0, 3): (40, 40)})
    b = _counts({(0, 1): (40, 40), (1, 2): (20, 40), (2, 3): (39, 40), (0, 2): (40, 40)})
    both = choose_pairs(np.stack([a[0], b[0]]), np.stack([a[1], b[1]]), ROWS, votes=5, floor=2)
    alone = [choose_pairs(w[None], t[None], ROWS, votes=5, floor=2)[0] for w, t in (a, b)]
    np.testing.assert_array_equal(both, np.stack(alone))
    assert not np.array_equal(both[0], both[1])


def test_neighbour_z_grows_with_votes_for_the_same_win_rate():
    i, j = all_pairs(2)
    z = []
    for n in (10, 40, 160):
        wins, totals = np.array([[0.6 * n]]), np.array([[float(n)]])
        theta = fit_log_strengths(i, j, wins, totals, 2, ridge=0.01)
        z.append(neighbour_z(theta, strength_covariance(theta, totals, i, j))[2][0, 0])
    assert z[0] < z[1] < z[2]
    assert abs(z[2] / z[1] - 2.0) < 0.05  # z ∝ √n
