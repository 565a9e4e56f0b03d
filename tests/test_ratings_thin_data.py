"""Honest ratings on thin or odd data: no zero-width intervals, per-component ranks, named bad values, valid JSON."""

import json

import numpy as np
import pandas as pd
import pytest

from bench.ratings import (
    BattlesError,
    RatingConfig,
    compute_ratings,
    markdown_table,
    normalize_battles,
    write_report,
)
from bench.ratings.elo import elo_over_permutations
from bench.votes.simulate import simulate_battles

FAST = RatingConfig(permutations=20, bootstrap=50, seed=0)


def _battles(rows, columns=("model_a", "model_b", "winner")):
    return pd.DataFrame(rows, columns=list(columns))


def _board(battles, config=FAST):
    return compute_ratings(battles, config).leaderboard.set_index("model")


def test_a_single_vote_gets_no_interval_and_says_why():
    board = _board(_battles([("A", "B", "model_a")]))
    assert board[["bt_lower", "bt_upper"]].isna().all().all()  # not a zero-width [1340, 1340]
    assert "1 vote, fewer than the 10 an interval needs" in board.loc["A", "interval_note"]
    assert board["rank_ub"].isna().all()


def test_fifty_one_way_votes_get_no_interval_and_say_the_prior_sets_the_rating():
    board = _board(_battles([("A", "B", "model_a")] * 50))
    assert board[["bt_lower", "bt_upper"]].isna().all().all()
    assert board.loc["A", "interval_note"].startswith("won all 50 votes")
    assert board.loc["B", "interval_note"].startswith("lost all 50 votes")
    text = markdown_table(compute_ratings(_battles([("A", "B", "model_a")] * 50), FAST))
    assert "[no interval†]" in text and "† No Bradley–Terry interval" in text


def test_rows_with_enough_mixed_votes_keep_their_interval():
    board = _board(simulate_battles({"a": 1050, "b": 1000, "c": 950}, 600, seed=1, tie_rate=0.1))
    assert (board["interval_note"] == "").all()
    assert (board["bt_upper"] - board["bt_lower"] > 1.0).all() and board["rank_ub"].notna().all()


def test_min_battles_is_a_setting_and_is_validated():
    votes = _battles([("A", "B", "model_a"), ("A", "B", "model_b")] * 3)
    assert (_board(votes, RatingConfig(permutations=0, bootstrap=50, min_battles=4))["interval_note"] == "").all()
    with pytest.raises(ValueError, match="min_battles must be >= 1"):
        RatingConfig(min_battles=0)


def test_disconnected_groups_are_ranked_within_their_component():
    rows = [("A", "B", "model_a")] * 6 + [("A", "B", "model_b")] * 2 \
        + [("C", "D", "model_a")] * 6 + [("D", "E", "model_a")] * 6 + [("C", "D", "model_b"), ("D", "E", "model_b")]
    report = compute_ratings(_battles(rows), FAST)
    board = report.leaderboard.set_index("model")
    assert board.loc[["C", "D", "E"], "component"].tolist() == [1, 1, 1]
    assert board.loc[["A", "B"], "component"].tolist() == [2, 2]
    assert board.loc["C", "rank"] == 1 and board.loc["A", "rank"] == 1  # each group has its own first
    assert board.loc["B", "rank"] == 2 and board.loc["E", "rank"] == 3
    assert list(report.leaderboard["component"]) == [1, 1, 1, 2, 2]
    text = markdown_table(report)
    assert text.splitlines()[0].startswith("| component | rank")
    assert "ratings and ranks hold only within a component" in text


def test_a_null_model_name_is_named_not_a_traceback():
    with pytest.raises(BattlesError, match=r"column 'model_b' is empty in 1 row\(s\) \(the first at position 1"):
        normalize_battles(_battles([("A", "B", "model_a"), ("A", None, "tie")]))
    with pytest.raises(BattlesError, match="column 'winner' is empty"):
        normalize_battles(_battles([("A", "B", np.nan)]))


def test_a_non_numeric_tstamp_is_named_with_its_value():
    frame = _battles([("A", "B", "model_a", 1.0), ("A", "B", "tie", "yesterday")],
                     ("model_a", "model_b", "winner", "tstamp"))
    with pytest.raises(BattlesError, match=r"column 'tstamp' holds 1 value\(s\) that are not numbers, e.g. 'yesterday' at position 1"):
        normalize_battles(frame)


def test_summary_json_is_strict_json_without_nan(tmp_path):
    # One vote: no ties to rate, no sides known, no shared items: several statistics are undefined.
    written = write_report(compute_ratings(_battles([("A", "B", "model_a")]), FAST), tmp_path, figures=False)
    text = written["summary"].read_text()

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    summary = json.loads(text, parse_constant=refuse)
    assert summary["left_win_rate"] is None and summary["agreement"]["fleiss_kappa"] is None


def test_permutation_elo_in_small_chunks_gives_the_same_numbers():
    battles = normalize_battles(simulate_battles({"a": 1100, "b": 1000, "c": 900, "d": 950}, 300, seed=2, tie_rate=0.1))
    whole = elo_over_permutations(battles, permutations=37, seed=4)
    chunked = elo_over_permutations(battles, permutations=37, seed=4, chunk_bytes=300 * 2 * 5)  # 5 orders a chunk
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)


def test_rate_command_prints_thin_rows_and_components_without_crashing(tmp_path, monkeypatch, capsys):
    import bench.cli

    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["rate"])
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that rich does not fold the cells
    votes = tmp_path / "votes.jsonl"
    _battles([("A", "B", "model_a"), ("C", "D", "tie")]).to_json(votes, orient="records", lines=True)
    assert bench.cli.main(["rate", str(votes), "--permutations", "5", "--bootstrap", "10", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "no interval†" in out and "component" in out and "1 vote, fewer than the 10" in out
