"""Study building: balanced blind pairs, randomised sides, gold items, per-annotator queues."""

import itertools
from collections import Counter

import numpy as np
import pytest

from bench.video_io import read_video
from bench.votes.demo_videos import make_demo_videos
from bench.votes.study import (
    StudyError,
    VideoRecord,
    annotator_queue,
    create_study_from_videos,
    load_study,
)

ROWS = ["inverted", "vanilla", "vanilla+D", "anti"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_demo_videos(tmp_path_factory.mktemp("videos"), ROWS, prompts=3, seeds=2, frames=8)


def test_every_row_pair_is_covered_and_every_row_reaches_per_row(videos):
    study = create_study_from_videos(videos, "s", per_row=20, seed=1)
    regular = [i for i in study.items if i.kind == "regular"]
    pairs = Counter(frozenset((i.left_row, i.right_row)) for i in regular)
    assert set(pairs) == {frozenset(p) for p in itertools.combinations(ROWS, 2)}
    assert max(pairs.values()) - min(pairs.values()) <= 1  # balanced
    assert all(n >= 20 for n in study.assessments_per_row().values())


def test_pairs_share_prompt_and_seed_and_point_at_the_right_videos(videos):
    study = create_study_from_videos(videos, "s", per_row=9, seed=2)
    by_key = {(v.row, v.prompt_id, v.seed): v.video for v in videos}
    for item in study.items:
        if item.kind != "regular":
            continue
        assert item.left_row != item.right_row
        assert str(study.media_path(item.left_media)).endswith(
            by_key[(item.left_row, item.prompt_id, item.seed)].split("/")[-1])
        assert str(study.media_path(item.right_media)).endswith(
            by_key[(item.right_row, item.prompt_id, item.seed)].split("/")[-1])


def test_sides_are_randomised_and_ids_are_blind(videos):
    study = create_study_from_videos(videos, "s", per_row=60, seed=3)
    regular = [i for i in study.items if i.kind == "regular"]
    first_row_left = sum(i.left_row < i.right_row for i in regular) / len(regular)
    assert 0.35 < first_row_left < 0.65
    ids = [i.item_id for i in study.items] + list(study.media)
    assert len(ids) == len(set(ids))
    for blind in ids:
        assert all(row.lower() not in blind for row in ROWS) and len(blind) == 16


def test_study_is_deterministic_under_its_seed_and_round_trips(videos, tmp_path):
    a = create_study_from_videos(videos, "s", per_row=6, seed=4, directory=tmp_path / "a", gold_broken=1)
    b = create_study_from_videos(videos, "s", per_row=6, seed=4, directory=tmp_path / "b", gold_broken=1)
    c = create_study_from_videos(videos, "s", per_row=6, seed=5)
    assert [i.item_id for i in a.items] == [i.item_id for i in b.items]
    assert [i.item_id for i in a.items] != [i.item_id for i in c.items]
    assert load_study(tmp_path / "a").items == a.items


def test_gold_items_swap_sides_and_break_one_video(videos, tmp_path):
    study = create_study_from_videos(videos, "s", per_row=6, seed=6, directory=tmp_path, gold_broken=2, gold_swap=3)
    items = study.item_by_id
    swaps = [i for i in study.items if i.kind == "gold_swap"]
    broken = [i for i in study.items if i.kind == "gold_broken"]
    assert len(swaps) == 3 and len(broken) == 2
    for swap in swaps:
        original = items[swap.gold_of]
        assert (swap.left_media, swap.right_media) == (original.right_media, original.left_media)
        assert (swap.left_row, swap.right_row) == (original.right_row, original.left_row)
    source_of = {(v.row, v.prompt_id, v.seed): v.video for v in videos}
    for gold in broken:
        bad_side = "right" if gold.expected_side == "left" else "left"
        bad_media = gold.right_media if bad_side == "right" else gold.left_media
        bad_row = gold.right_row if bad_side == "right" else gold.left_row
        bad = read_video(study.media_path(bad_media))
        source = read_video(source_of[(bad_row, gold.prompt_id, gold.seed)])
        assert bad.shape == source.shape  # same length: playback stays in sync
        assert np.abs(bad.astype(int) - source.astype(int)).mean() > 60  # unmistakably broken
        assert study.media_path(bad_media).is_relative_to(tmp_path)


def test_annotator_queue_holds_every_item_once_with_swaps_after_originals(videos, tmp_path):
    study = create_study_from_videos(videos, "s", per_row=12, seed=7, directory=tmp_path, gold_broken=2, gold_swap=4)
    queue = annotator_queue(study, "ann-1")
    assert sorted(queue) == sorted(i.item_id for i in study.items)
    for item in study.items:
        if item.kind == "gold_swap":
            assert queue.index(item.item_id) > queue.index(item.gold_of)
    assert queue == annotator_queue(study, "ann-1")
    assert queue != annotator_queue(study, "ann-2")


def test_one_row_is_rejected(videos):
    with pytest.raises(StudyError, match="at least two rows"):
        create_study_from_videos([v for v in videos if v.row == "vanilla"], "s", per_row=5)


def test_rows_without_a_shared_prompt_and_seed_are_named(videos):
    mixed = [v for v in videos if not (v.row == "anti" and v.seed == 0)]
    mixed = [v for v in mixed if not (v.row == "inverted" and v.seed == 1)]
    with pytest.raises(StudyError, match="inverted.*anti|anti.*inverted"):
        create_study_from_videos(mixed, "s", per_row=5)


def test_missing_video_file_is_named(tmp_path):
    records = [VideoRecord("a", "p", 0, str(tmp_path / "nope.mp4")), VideoRecord("b", "p", 0, str(tmp_path / "x.mp4"))]
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        create_study_from_videos(records, "s", per_row=1)


@pytest.mark.parametrize("name", ["../up", "a/b", "", "x" * 65])
def test_unsafe_study_names_are_rejected(videos, name):
    with pytest.raises(StudyError, match="study name"):
        create_study_from_videos(videos, name, per_row=1)
