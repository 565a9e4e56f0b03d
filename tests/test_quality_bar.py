"""The lab quality bar's measurement (bench.train.evaluate): real continuations pass, broken ones fail."""

import numpy as np
import pytest

from bench.train.evaluate import first_section_numbers
from bench.world import test_split
from metrics.lab.perceptor import LabPerceptor

FRAMES = 10  # start frame + one 9-frame section


@pytest.fixture(scope="module")
def clips():
    items = test_split("i2v")[:6]
    real = [item.reference_clip(FRAMES) for item in items]
    return [clip.frames for clip in real], [np.array([[s.x, s.y] for s in clip.states]) for clip in real]


@pytest.fixture(scope="module")
def perceptor():
    return LabPerceptor.load()


def test_real_continuations_meet_the_bar(perceptor, clips):
    frames, truth = clips
    numbers = first_section_numbers(perceptor, frames, frames, truth)
    met = numbers["met"]
    assert met["presence"] and met["shape_kept"] and met["colour_kept"] and met["identity_kept"]
    assert met["position_error_px_frame1"] and met["moves"] and met["degradation_gap"]
    assert numbers["displacement_px_generated"] == pytest.approx(numbers["displacement_px_real"])


def test_a_frozen_start_frame_does_not_move(perceptor, clips):
    frames, truth = clips
    frozen = [np.repeat(video[:1], FRAMES, axis=0) for video in frames]
    numbers = first_section_numbers(perceptor, frozen, frames, truth)
    assert numbers["displacement_px_generated"] < 0.5 and numbers["met"]["moves"] is False
    assert numbers["met"]["identity_kept"]  # copying keeps the subject, it just does not continue


def test_moving_the_wrong_way_does_not_count_as_moving(perceptor, clips):
    frames, truth = clips
    # each section played backwards from the start frame's place: it moves as far, the other way
    backwards = []
    for video in frames:
        reversed_section = video[1:][::-1]
        backwards.append(np.concatenate([video[:1], reversed_section]))
    numbers = first_section_numbers(perceptor, backwards, frames, truth)
    assert numbers["moving_share_generated"] >= 0.5 and numbers["direction_cosine_generated"] < 0
    assert numbers["met"]["moves"] is False


def test_moves_does_not_apply_when_the_real_sections_do_not_move(perceptor, clips):
    frames, truth = clips
    one_frame = [video[:2] for video in frames]  # a one-frame section cannot show motion
    numbers = first_section_numbers(perceptor, one_frame, one_frame, [t[:2] for t in truth])
    assert numbers["moving_share_real"] == 0 and numbers["met"]["moves"] is None
    assert all(numbers["met"][k] for k in numbers["met"] if k != "moves")


def test_an_empty_or_noisy_section_fails(perceptor, clips):
    frames, truth = clips
    rng = np.random.default_rng(0)
    background_only = [np.concatenate([v[:1], np.full_like(v[1:], 90)]) for v in frames]
    assert not first_section_numbers(perceptor, background_only, frames, truth)["met"]["presence"]
    noisy = [np.concatenate([v[:1], np.clip(v[1:] + rng.normal(0, 60, v[1:].shape), 0, 255).astype(np.uint8)])
             for v in frames]
    assert not first_section_numbers(perceptor, noisy, frames, truth)["met"]["degradation_gap"]


def test_every_kind_of_reference_row_can_be_evaluated(tmp_path):
    from bench.train.evaluate import REFERENCE_ROWS, evaluate_rows

    rows = {name: REFERENCE_ROWS[name] for name in ("fp_inverted", "bl_repeated_i2v")}  # plain and wrapped
    report = evaluate_rows(rows, items=1, figure=None, out=str(tmp_path / "report.json"), show_progress=False)
    for name in rows:
        numbers = report["rows"][name]
        assert numbers["items"] == 1 and numbers["frames_per_section"] == 9 and set(numbers["met"]) >= {"moves"}


def test_the_validation_split_reads_other_items_than_the_test_split(tmp_path):
    from bench.train.evaluate import REFERENCE_ROWS, evaluate_rows

    rows = {"fp_vanilla": REFERENCE_ROWS["fp_vanilla"]}
    kwargs = dict(items=1, figure=None, show_progress=False)
    test = evaluate_rows(rows, out=str(tmp_path / "test.json"), **kwargs)
    validation = evaluate_rows(rows, out=str(tmp_path / "validation.json"), split="validation", **kwargs)
    assert (test["split"], validation["split"]) == ("test", "validation")
    assert test["rows"]["fp_vanilla"]["displacement_px_real"] != validation["rows"]["fp_vanilla"]["displacement_px_real"]
    with pytest.raises(ValueError, match="unknown split 'train'"):
        evaluate_rows(rows, out=str(tmp_path / "x.json"), split="train", **kwargs)
