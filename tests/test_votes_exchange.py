"""Export / import of votes: jsonl, csv and FastChat's battle shape."""

import json

import pandas as pd
import pytest

from bench.ratings import RatingConfig, compute_ratings
from bench.votes.demo_videos import make_demo_videos
from bench.votes.exchange import export_battles, import_battles, read_battles, study_battles
from bench.votes.simulate import simulate_study_votes
from bench.votes.study import create_study_from_videos

STRENGTHS = {"r": 1150.0, "g": 1000.0, "b": 900.0}


@pytest.fixture(scope="module")
def voted_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("exchange")
    records = make_demo_videos(root / "videos", list(STRENGTHS), prompts=2, frames=4)
    create_study_from_videos(records, "x", per_row=6, seed=1, directory=root / "study", gold_broken=1, gold_swap=1)
    simulate_study_votes(root / "study", STRENGTHS, annotators=3, seed=2)
    return root, records


@pytest.mark.parametrize("fmt, suffix", [("jsonl", "jsonl"), ("csv", "csv")])
def test_jsonl_and_csv_round_trip_every_column(voted_study, tmp_path, fmt, suffix):
    root, _ = voted_study
    battles = study_battles(root / "study")
    path = export_battles(battles, tmp_path / f"votes.{suffix}", fmt)
    back = read_battles(path)
    assert len(back) == len(battles)
    for column in ("vote_id", "model_a", "model_b", "winner", "judge", "kind", "item_id", "gold_of",
                   "expected_winner", "simulated"):
        left = battles[column].astype(object).where(battles[column].notna(), None).tolist()
        right = back[column].astype(object).where(back[column].notna(), None).tolist()
        assert [None if v is None else str(v) for v in left] == [None if v is None else str(v) for v in right], column
    assert back["a_on_left"].all() and back["simulated"].all()


def test_fastchat_shape_has_the_arena_keys_and_only_regular_battles(voted_study, tmp_path):
    root, _ = voted_study
    battles = study_battles(root / "study")
    path = export_battles(battles, tmp_path / "battles.json", "fastchat")
    records = json.loads(path.read_text())
    assert len(records) == int((battles["kind"] == "regular").sum())
    assert set(records[0]) == {"model_a", "model_b", "winner", "judge", "tstamp", "anony", "simulated"}
    assert {r["winner"] for r in records} <= {"model_a", "model_b", "tie", "tie (bothbad)"}
    assert all(r["simulated"] and r["judge"].startswith("simulated-") for r in records)


def test_ratings_from_an_exported_fastchat_file_equal_ratings_from_the_study(voted_study, tmp_path):
    root, _ = voted_study
    battles = study_battles(root / "study")
    path = export_battles(battles, tmp_path / "battles.json", "fastchat")
    config = RatingConfig(permutations=20, bootstrap=20)
    from_study = compute_ratings(battles, config).leaderboard.set_index("model")
    from_file = compute_ratings(read_battles(path), config).leaderboard.set_index("model")
    pd.testing.assert_series_equal(from_study["elo"], from_file["elo"])
    pd.testing.assert_series_equal(from_study["bt"], from_file["bt"])


def test_import_is_idempotent_and_keeps_ratings(voted_study, tmp_path):
    root, records = voted_study
    battles = study_battles(root / "study")
    exported = export_battles(battles, tmp_path / "votes.jsonl", "jsonl")
    create_study_from_videos(records, "copy", per_row=6, seed=1, directory=tmp_path / "copy")
    assert import_battles(tmp_path / "copy", exported) == (len(battles), 0)
    assert import_battles(tmp_path / "copy", exported) == (0, len(battles))
    copied = study_battles(tmp_path / "copy")
    config = RatingConfig(permutations=10, bootstrap=10)
    pd.testing.assert_frame_equal(compute_ratings(battles, config).leaderboard,
                                  compute_ratings(copied, config).leaderboard)
    assert copied["simulated"].all()


def test_fastchat_import_without_vote_ids_is_idempotent(voted_study, tmp_path):
    root, records = voted_study
    rows = [{"model_a": "r", "model_b": "g", "winner": "model_a", "judge": "ext", "tstamp": 1.0},
            {"model_a": "g", "model_b": "b", "winner": "tie (bothbad)", "judge": "ext", "tstamp": 2.0}]
    path = tmp_path / "arena.json"
    path.write_text(json.dumps(rows))
    create_study_from_videos(records, "arena", per_row=2, seed=1, directory=tmp_path / "s")
    assert import_battles(tmp_path / "s", path) == (2, 0)
    assert import_battles(tmp_path / "s", path) == (0, 2)
    stored = study_battles(tmp_path / "s")
    assert list(stored["winner"]) == ["model_a", "tie (bothbad)"] and stored["a_on_left"].isna().all()


def test_bad_votes_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_battles(tmp_path / "missing.jsonl")
    odd = tmp_path / "votes.txt"
    odd.write_text("x")
    with pytest.raises(ValueError, match="unknown votes file type"):
        read_battles(odd)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"model_a": "a", "model_b": "b", "winner": "left"}]))
    with pytest.raises(ValueError, match="unknown winner"):
        read_battles(bad)
    with pytest.raises(ValueError, match="format"):
        export_battles(pd.DataFrame(), tmp_path / "x", "xml")


def test_simulated_study_votes_are_the_same_under_a_seed_whatever_the_annotator_ids(voted_study, tmp_path):
    # Annotator ids are random, so each judge's queue order differs between two studies; the votes must not.
    _, records = voted_study
    outcomes = []
    for name in ("first", "second"):
        create_study_from_videos(records, "x", per_row=6, seed=1, directory=tmp_path / name,
                                 gold_broken=1, gold_swap=1)
        simulate_study_votes(tmp_path / name, STRENGTHS, annotators=3, seed=2)
        battles = study_battles(tmp_path / name)
        outcomes.append(battles.groupby(["judge", "model_a", "model_b"])["winner"].apply(sorted).to_dict())
    assert outcomes[0] == outcomes[1]
