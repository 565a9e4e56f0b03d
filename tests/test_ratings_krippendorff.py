"""Krippendorff's α: the textbook example, and α for A/B votes beside pairwise agreement and Fleiss' κ."""

import numpy as np
import pandas as pd
import pytest

from bench.ratings import annotator_agreement, normalize_battles
from bench.ratings.krippendorff import krippendorff_alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing values as None. Published: nominal 0.743, ordinal 0.815, interval 0.849.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _textbook_counts():
    counts = np.zeros((12, 5))
    for observer in TEXTBOOK:
        for unit, value in enumerate(observer):
            if value is not None:
                counts[unit, value - 1] += 1
    return counts


@pytest.mark.parametrize("metric, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_matches_the_published_textbook_example(metric, published):
    assert krippendorff_alpha(_textbook_counts(), metric)["alpha"] == pytest.approx(published, abs=5e-4)


def test_bootstrap_interval_brackets_alpha_and_is_seeded():
    first = krippendorff_alpha(_textbook_counts(), "ordinal", bootstrap=300, seed=1)
    again = krippendorff_alpha(_textbook_counts(), "ordinal", bootstrap=300, seed=1)
    assert first == again
    assert first["lower"] < first["alpha"] < first["upper"] <= 1.0
    assert np.isnan(krippendorff_alpha(_textbook_counts(), "ordinal")["lower"])  # no bootstrap asked


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="unknown Krippendorff metric 'ratio'"):
        krippendorff_alpha(_textbook_counts(), "ratio")


def test_ab_votes_alpha_is_ordinal_with_both_bad_as_a_tie():
    # Item 1: A, A, tie; item 2: B, B, both-bad; item 3: A, B. By hand with categories A < tie < B:
    # values per item (A, tie, B): (2, 1, 0), (0, 1, 2), (1, 0, 1); n_c = (3, 2, 3), n = 8.
    # Coincidences: item 1 o_AA = 1, o_At = o_tA = 1; item 2 o_BB = 1, o_tB = o_Bt = 1; item 3 o_AB = o_BA = 1.
    # Ordinal δ(c, k) = Σ_{g=c..k} n_g − (n_c + n_k)/2: δ(A,t) = 3 + 2 − 2.5 = 2.5 → δ² 6.25; δ(t,B) the same;
    # δ(A,B) = 3 + 2 + 3 − 3 = 5 → 25. Σ o·δ² = 2·6.25 + 2·6.25 + 2·25 = 75;
    # expected Σ n_c n_k δ² = 2·(3·2·6.25 + 2·3·6.25 + 3·3·25) = 600; α = 1 − (n − 1)·75/600 = 1 − 7·75/600 = 0.125.
    rows = [("x", "y", w, j, item) for item, winners in
            (("i1", ["model_a", "model_a", "tie"]), ("i2", ["model_b", "model_b", "tie (bothbad)"]),
             ("i3", ["model_a", "model_b"]))
            for j, w in zip(["j1", "j2", "j3"], winners, strict=False)]
    battles = normalize_battles(pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "judge", "item_id"]))
    stats = annotator_agreement(battles, bootstrap=200, seed=0)
    assert stats["items"] == 3
    assert stats["krippendorff_alpha"] == pytest.approx(0.125)
    assert "pairwise_agreement" in stats and "fleiss_kappa" in stats
    assert stats["krippendorff_alpha_lower"] <= stats["krippendorff_alpha_upper"]
