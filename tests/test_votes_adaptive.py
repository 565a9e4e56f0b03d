"""Adaptive pairing in a study: coverage, random sides, blind ids, gold items, the server's choice."""

import itertools
import uuid
from collections import Counter

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench.votes.adaptive_queue import annotator_plan, next_adaptive_item
from bench.votes.app import create_app
from bench.votes.demo_videos import make_demo_videos
from bench.votes.simulate import simulate_study_votes
from bench.votes.store import VoteStore
from bench.votes.study import DB_FILE, StudyError, annotator_queue, create_study_from_videos, load_study

ROWS = ["near-a", "near-b", "far-c", "far-d"]
# near-a and near-b are hard to tell apart; far-c and far-d are far from everything.
STRENGTHS = {"near-a": 1000.0, "near-b": 1015.0, "far-c": 1400.0, "far-d": 600.0}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_demo_videos(tmp_path_factory.mktemp("videos"), ROWS, prompts=4, seeds=2, frames=4)


def test_adaptive_study_offers_every_pair_on_every_prompt_with_random_sides_and_blind_ids(videos, tmp_path):
    study = create_study_from_videos(videos, "adaptive", per_row=30, seed=1, pairing="adaptive", floor=5,
                                     directory=tmp_path, gold_broken=2)
    regular = [i for i in study.items if i.kind == "regular"]
    offered = Counter(frozenset((i.left_row, i.right_row)) for i in regular)
    assert offered == {frozenset(p): 8 for p in itertools.combinations(ROWS, 2)}  # 4 prompts × 2 seeds each
    left_first = sum(ROWS.index(i.left_row) < ROWS.index(i.right_row) for i in regular) / len(regular)
    assert 0.3 < left_first < 0.7
    ids = [i.item_id for i in study.items] + list(study.media)
    assert len(ids) == len(set(ids)) and all(len(x) == 16 for x in ids)
    assert not any(row in x for x in ids for row in ROWS)
    twins = {i.gold_of for i in study.items if i.kind == "gold_swap"}
    assert twins == {i.item_id for i in regular}  # any item may be shown, so each can be repeated swapped
    again = load_study(tmp_path)
    assert (again.pairing, again.floor, again.items) == ("adaptive", 5, study.items)


def test_bad_pairing_or_floor_is_named(videos):
    with pytest.raises(StudyError, match="pairing 'elo'"):
        create_study_from_videos(videos, "s", pairing="elo")
    with pytest.raises(StudyError, match="floor must be between 0 and per_row"):
        create_study_from_videos(videos, "s", per_row=5, pairing="adaptive", floor=6)
    with pytest.raises(StudyError, match="no fixed queue"):
        annotator_queue(create_study_from_videos(videos, "s", per_row=3, pairing="adaptive"), "ann")


def test_adaptive_pairing_covers_every_row_then_spends_votes_on_close_rows(videos, tmp_path):
    # 18 items per annotator out of 48 on offer (each pair on 4 prompts × 2 seeds): room to choose.
    create_study_from_videos(videos, "adaptive", per_row=9, seed=2, pairing="adaptive", floor=3,
                             directory=tmp_path, gold_broken=1, gold_swap=2)
    simulate_study_votes(tmp_path, STRENGTHS, annotators=3, seed=0, tie_rate=0.0, both_bad_rate=0.0,
                         judge_noise=0.0)
    votes = VoteStore(tmp_path / DB_FILE).votes()
    regular = votes[votes["kind"] == "regular"]
    per_row = Counter(regular["left_row"]) + Counter(regular["right_row"])
    assert all(per_row[row] >= 3 for row in ROWS)  # the floor: every row covered
    per_pair = Counter(frozenset(p) for p in zip(regular["left_row"], regular["right_row"], strict=True))
    near = per_pair[frozenset(("near-a", "near-b"))]
    certain = per_pair[frozenset(("far-c", "far-d"))]  # 800 points apart: settled by the floor's votes
    assert near > 3 * max(certain, 1)


def test_each_annotator_gets_every_broken_gold_and_swaps_3_to_10_items_after_the_original(videos, tmp_path):
    study = create_study_from_videos(videos, "adaptive", per_row=12, seed=3, pairing="adaptive", floor=3,
                                     directory=tmp_path, gold_broken=2, gold_swap=3)
    simulate_study_votes(tmp_path, STRENGTHS, annotators=2, seed=1)
    votes = VoteStore(tmp_path / DB_FILE).votes()
    items = study.item_by_id
    for annotator_id, mine in votes.groupby("annotator_id"):
        answered = list(mine.sort_values("seq")["item_id"])
        assert len(answered) == len(annotator_plan(study, annotator_id)) == study.regular_per_annotator + 2 + 3
        assert Counter(items[i].kind for i in answered) == {"regular": study.regular_per_annotator,
                                                            "gold_broken": 2, "gold_swap": 3}
        for position, item_id in enumerate(answered):
            if items[item_id].kind == "gold_swap":
                assert 3 <= position - answered.index(items[item_id].gold_of) <= 10


def test_next_item_is_a_pure_function_of_the_stored_votes(videos, tmp_path):
    study = create_study_from_videos(videos, "adaptive", per_row=12, seed=4, pairing="adaptive", floor=2,
                                     directory=tmp_path, gold_broken=0, gold_swap=0)
    simulate_study_votes(tmp_path, STRENGTHS, annotators=1, votes_per_annotator=9, seed=2)
    store = VoteStore(tmp_path / DB_FILE)
    _, _ = store.add_annotator("fresh")
    fresh = store.annotator_by_name("fresh").annotator_id
    votes = store.votes()
    first = next_adaptive_item(load_study(tmp_path), votes, fresh)
    assert first == next_adaptive_item(load_study(tmp_path), votes.copy(), fresh)
    assert first.item_id in study.item_by_id and (first.done, first.total) == (0, study.regular_per_annotator)


@pytest.fixture()
def served(videos, tmp_path):
    study_dir = tmp_path / "study"
    create_study_from_videos(videos, "served", per_row=3, seed=5, pairing="adaptive", floor=1,
                             directory=study_dir, gold_broken=1, gold_swap=1)
    store = VoteStore(study_dir / DB_FILE)
    _, token = store.add_annotator("alice")
    store.close()
    return TestClient(create_app(study_dir)), {"Authorization": f"Bearer {token}"}, study_dir


def _vote(client, headers, item_id, choice="left"):
    body = {"vote_id": str(uuid.uuid4()), "item_id": item_id, "choice": choice, "watched": True}
    return client.post("/api/votes", json=body, headers=headers)


def test_server_offers_adaptive_items_until_the_plan_is_done(served, tmp_path):
    client, headers, study_dir = served
    state = client.get("/api/state", headers=headers).json()
    total = state["total"]
    assert state["done"] == 0 and total == load_study(study_dir).regular_per_annotator + 2
    seen = []
    for step in range(total):
        state = client.get("/api/state", headers=headers).json()
        assert state["done"] == step and state["item"]["left"].startswith("/media/")
        seen.append(state["item"]["item_id"])
        assert _vote(client, headers, seen[-1], choice=("left", "right", "tie")[step % 3]).status_code == 201
    assert len(set(seen)) == total
    assert client.get("/api/state", headers=headers).json()["item"] is None
    foreign = create_study_from_videos(make_demo_videos(tmp_path / "v2", ["x", "y"], prompts=1, frames=4),
                                       "other", per_row=1, seed=9).items[0].item_id
    assert _vote(client, headers, foreign).status_code == 404


def test_plan_is_fixed_per_annotator_and_differs_between_annotators(videos):
    study = create_study_from_videos(videos, "s", per_row=30, seed=6, pairing="adaptive", gold_swap=4)
    plan = annotator_plan(study, "ann-1")
    assert plan == annotator_plan(study, "ann-1") and plan != annotator_plan(study, "ann-2")
    assert plan.count("swap") == 4 and "swap" not in plan[:3]
    assert np.mean([slot == "regular" for slot in plan]) > 0.9


@pytest.fixture()
def fpbench(monkeypatch):
    import bench.cli

    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["votes", "rate"])
    return bench.cli.main


def test_cli_builds_an_adaptive_study_simulates_reports_status_and_rates(fpbench, videos, tmp_path, capsys):
    import pandas as pd

    listing = tmp_path / "videos.csv"
    pd.DataFrame([v.__dict__ for v in videos]).to_csv(listing, index=False)
    study = tmp_path / "study"
    assert fpbench(["votes", "create-study", str(listing), "--name", "ad", "--per-row", "6", "--out", str(study),
                    "--pairing", "adaptive", "--floor", "2", "--gold-broken", "1"]) == 0
    assert "(adaptive pairing)" in capsys.readouterr().out
    assert fpbench(["votes", "simulate", str(study), *[f"--strength={r}={s}" for r, s in STRENGTHS.items()],
                    "--annotators", "2"]) == 0
    assert fpbench(["votes", "status", str(study)]) == 0
    assert "14 / 14" in capsys.readouterr().out  # 12 regular + 1 broken + 1 swapped per annotator
    assert fpbench(["rate", str(study), "--permutations", "10", "--bootstrap", "20", "--min-votes", "3",
                    "--no-figures"]) == 0
    assert pd.read_parquet(study / "ratings" / "ratings.parquet")["simulated"].all()
    assert fpbench(["votes", "create-study", str(listing), "--name", "rr", "--out", str(tmp_path / "rr"),
                    "--floor", "3"]) == 2
    assert "--floor 3 applies to --pairing adaptive only" in capsys.readouterr().err
