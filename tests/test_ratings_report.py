"""The full rating report: matrices, QC statistics, simulated labels, files on disk."""

import json

import numpy as np
import pandas as pd
import pytest

from bench.ratings import (
    RatingConfig,
    annotator_agreement,
    comparison_components,
    compute_ratings,
    gold_accuracy,
    left_side_win_rate,
    markdown_table,
    normalize_battles,
    win_rate_matrix,
    write_report,
)
from bench.votes.simulate import simulate_battles, strengths_from_scores

FAST = RatingConfig(permutations=50, bootstrap=50, seed=0)


def _frame(rows, columns=("model_a", "model_b", "winner")):
    return normalize_battles(pd.DataFrame(rows, columns=list(columns)))


def test_win_rate_matrix_counts_ties_as_half():
    battles = _frame([("A", "B", "model_a"), ("A", "B", "tie"), ("B", "A", "model_a"), ("C", "A", "model_b")])
    rates = win_rate_matrix(battles)
    assert rates.loc["A", "B"] == pytest.approx(0.5)  # 1 + 0.5 + 0 of 3
    assert rates.loc["B", "A"] == pytest.approx(0.5)
    assert rates.loc["A", "C"] == pytest.approx(1.0) and rates.loc["C", "A"] == pytest.approx(0.0)
    assert np.isnan(rates.loc["B", "C"])


def test_left_side_win_rate_measures_position_bias():
    rows = [("A", "B", "model_a", True), ("A", "B", "model_a", False), ("A", "B", "model_b", False),
            ("A", "B", "tie", True)]
    stats = left_side_win_rate(_frame(rows, ("model_a", "model_b", "winner", "a_on_left")))
    assert stats == {"decisive_with_side": 3, "left_win_rate": pytest.approx(2 / 3)}
    biased = normalize_battles(simulate_battles({"a": 1000, "b": 1000}, 4000, seed=1, left_bias=120))
    assert left_side_win_rate(biased)["left_win_rate"] > 0.6


def test_disconnected_comparison_graph_is_reported():
    battles = _frame([("A", "B", "model_a"), ("C", "D", "model_b"), ("D", "E", "tie")])
    assert comparison_components(battles) == [["C", "D", "E"], ["A", "B"]]
    report = compute_ratings(battles, FAST)
    assert report.summary["connected"] is False
    assert "NOT connected: [['C', 'D', 'E'], ['A', 'B']]" in markdown_table(report)


def test_agreement_hand_example():
    rows = [  # item 1: 3 judges agree; item 2: 2 of 3 agree; item 3: one judge only (ignored)
        ("A", "B", "model_a", "j1", "i1"), ("A", "B", "model_a", "j2", "i1"), ("A", "B", "model_a", "j3", "i1"),
        ("A", "B", "model_a", "j1", "i2"), ("A", "B", "model_a", "j2", "i2"), ("A", "B", "tie", "j3", "i2"),
        ("A", "B", "model_b", "j1", "i3"),
    ]
    stats = annotator_agreement(_frame(rows, ("model_a", "model_b", "winner", "judge", "item_id")))
    # pairs: item1 3/3 agree, item2 1/3 agree -> 4/6; Fleiss: P̄ = (1 + 1/3)/2 = 2/3,
    # category shares 5/6 model_a, 1/6 tie -> P_e = 26/36; kappa = (2/3 - 26/36)/(1 - 26/36) = -0.2
    assert stats["items"] == 2
    assert stats["pairwise_agreement"] == pytest.approx(4 / 6)
    assert stats["fleiss_kappa"] == pytest.approx(-0.2)


def test_gold_accuracy_scores_broken_pairs_and_swap_consistency_per_annotator():
    columns = ("model_a", "model_b", "winner", "judge", "item_id", "kind", "gold_of", "expected_winner")
    rows = [
        ("A", "B", "model_a", "good", "r1", "regular", None, None),
        ("B", "A", "model_b", "good", "s1", "gold_swap", "r1", None),  # chose A again: consistent
        ("A", "B", "model_b", "good", "g1", "gold_broken", None, "model_b"),  # picked the intact one
        ("A", "B", "model_a", "sloppy", "r1", "regular", None, None),
        ("B", "A", "model_a", "sloppy", "s1", "gold_swap", "r1", None),  # chose B now: inconsistent
        ("A", "B", "model_a", "sloppy", "g1", "gold_broken", None, "model_b"),  # picked the broken one
    ]
    gold = gold_accuracy(_frame(rows, columns)).set_index("judge")
    assert gold.loc["good", "broken_accuracy"] == 1.0 and gold.loc["good", "swap_consistency"] == 1.0
    assert gold.loc["sloppy", "broken_accuracy"] == 0.0 and gold.loc["sloppy", "swap_consistency"] == 0.0


def test_gold_rows_score_annotators_but_never_move_ratings():
    columns = ("model_a", "model_b", "winner", "kind", "expected_winner")
    regular = [("A", "B", "model_a", "regular", None)] * 3 + [("A", "B", "model_b", "regular", None)]
    gold = [("A", "B", "model_b", "gold_broken", "model_b")] * 5
    with_gold = compute_ratings(_frame(regular + gold, columns), FAST)
    without = compute_ratings(_frame(regular, columns), FAST)
    pd.testing.assert_series_equal(with_gold.leaderboard["elo"], without.leaderboard["elo"])
    assert with_gold.summary["gold_votes"] == 5 and with_gold.summary["regular_battles"] == 4


def test_simulated_votes_are_labelled_in_every_table_file_and_figure(tmp_path):
    battles = simulate_battles({"x": 1100, "y": 1000, "z": 950}, 300, seed=2, tie_rate=0.1)
    report = compute_ratings(battles, FAST)
    written = write_report(report, tmp_path)
    for name in ("ratings", "pairs", "annotators", "gold", "elo_permutations", "bt_bootstrap"):
        table = pd.read_parquet(written[name])
        assert "simulated" in table.columns and (table.empty or table["simulated"].all()), name
    assert "SIMULATED" in written["markdown"].read_text().splitlines()[0]
    summary = json.loads(written["summary"].read_text())
    assert summary["simulated_votes"] == 300 and "SIMULATED" in summary["title"]
    assert written["ratings_figure"].stat().st_size > 1000 and written["win_rate_figure"].stat().st_size > 1000
    assert all(j.startswith("simulated-") for j in pd.read_parquet(written["annotators"])["judge"])


def test_human_votes_are_not_labelled_simulated(tmp_path):
    battles = _frame([("A", "B", "model_a"), ("B", "A", "tie")])
    report = compute_ratings(battles, FAST)
    assert not report.simulated and not report.leaderboard["simulated"].any()
    assert "SIMULATED" not in write_report(report, tmp_path, figures=False)["markdown"].read_text()


def test_leaderboard_ranks_strongest_first_with_band_and_interval_ranks():
    battles = simulate_battles({"best": 1300, "mid": 1000, "worst": 700}, 3000, seed=4)
    board = compute_ratings(battles, RatingConfig(permutations=100, bootstrap=200)).leaderboard
    assert list(board["model"]) == ["best", "mid", "worst"]
    assert list(board["rank"]) == [1, 2, 3] and list(board["rank_ub"]) == [1, 2, 3]
    assert (board["bt_lower"] <= board["bt"]).all() and (board["bt"] <= board["bt_upper"]).all()
    assert (board["wins"] + board["ties"] + board["losses"] == board["battles"]).all()


def test_rating_config_rejects_bad_values():
    with pytest.raises(ValueError, match="k must be"):
        RatingConfig(k=0)
    with pytest.raises(ValueError, match="bootstrap"):
        RatingConfig(bootstrap=-1)


def test_no_regular_battles_is_a_clear_error():
    with pytest.raises(ValueError, match="no regular battles"):
        compute_ratings(_frame([("A", "B", "model_a", "gold_swap")], ("model_a", "model_b", "winner", "kind")))


def test_strengths_from_scores_orders_rows_by_metric():
    strengths = strengths_from_scores({"a": 0.9, "b": 0.5, "c": 0.1}, spread=100)
    assert strengths["a"] > strengths["b"] > strengths["c"] and np.mean(list(strengths.values())) == pytest.approx(1000)
    drift = strengths_from_scores({"a": 0.9, "b": 0.1}, higher_is_better=False)
    assert drift["b"] > drift["a"]


def test_markdown_table_escapes_pipes_in_row_names():
    battles = _frame([("td_f16k4|g9", "plain", "model_a"), ("plain", "td_f16k4|g9", "tie")])
    lines = [line for line in markdown_table(compute_ratings(battles, FAST)).splitlines()
             if line.startswith("|") and "g9" in line]
    assert lines and all("td_f16k4\\|g9" in line for line in lines)
    header_cells = markdown_table(compute_ratings(battles, FAST)).splitlines()[0].count("|")
    assert all(line.replace("\\|", "").count("|") == header_cells for line in lines)
