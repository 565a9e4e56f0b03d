"""The lab world: determinism, ground truth that matches the pixels, smooth motion, prompts, splits."""

import dataclasses

import numpy as np
import pytest

from bench.world import (
    COLOURS,
    IDENTITIES,
    NUM_IDENTITIES,
    SECTIONS,
    SHAPES,
    STRUCTURES,
    TRAIN_SEEDS,
    VALIDATION_SEEDS,
    Degradation,
    is_training_seed,
    num_frames,
    render_state,
    sample_clip,
    sample_labelled_frame,
    test_split,
)
from bench.world.vocabulary import SUBJECT_COLOURS


def test_same_seed_gives_identical_clip_and_different_seeds_differ():
    a, b = sample_clip(7, 12), sample_clip(7, 12)
    assert np.array_equal(a.frames, b.frames)
    assert a.prompt == b.prompt and a.states == b.states
    assert not np.array_equal(a.frames, sample_clip(8, 12).frames)


def test_frames_are_uint8_64x64_rgb_for_any_length():
    for length in (1, 5, 40):
        clip = sample_clip(3, length)
        assert clip.frames.shape == (length, 64, 64, 3) and clip.frames.dtype == np.uint8
        assert len(clip.states) == length


def test_longer_clip_and_later_start_follow_the_same_path():
    long = sample_clip(11, 30)
    assert np.array_equal(long.frames[:10], sample_clip(11, 10).frames)
    later = sample_clip(11, 10, first_index=20)
    assert np.array_equal(long.frames[20:], later.frames)
    assert later.states[0].index == 20


def test_subject_centre_pixel_has_the_subject_colour():
    for seed in range(20):
        clip = sample_clip(seed, 6)
        for frame, state in zip(clip.frames, clip.states, strict=True):
            row, col = int(state.y), int(state.x)
            expected = np.array(SUBJECT_COLOURS[state.colour]) * 255
            assert np.abs(frame[row, col].astype(float) - expected).max() < 6, (seed, state)


def test_subject_is_inside_the_frame_and_the_background_is_not_subject_coloured():
    clip = sample_clip(5, 80)
    for state in clip.states:
        assert state.radius <= state.x <= 64 - state.radius and state.radius <= state.y <= 64 - state.radius
    absent = render_state(dataclasses.replace(clip.states[0], present=False, distractor=None), clip.background)
    subject = np.array(SUBJECT_COLOURS[clip.states[0].colour]) * 255
    assert np.abs(absent.astype(float) - subject).max(axis=-1).min() > 20


def test_motion_is_continuous_and_smooth_at_16_fps():
    for seed in range(40):
        clip = sample_clip(seed, 64)
        xy = np.array([(s.x, s.y) for s in clip.states])
        step = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        assert step.max() < 3.0, seed  # no jumps
        accel = np.linalg.norm(np.diff(xy, 2, axis=0), axis=1)
        # Smooth almost everywhere: kinks only at wall reflections / floor bounces.
        assert np.mean(accel < 0.3) > 0.85, seed
        assert step.sum() > 3.0, seed  # it moves


def test_subject_attributes_are_constant_within_a_clip():
    clip = sample_clip(9, 20)
    assert {(s.shape, s.colour, s.identity, s.structure) for s in clip.states} == {
        (clip.attributes.shape, clip.attributes.colour, clip.attributes.identity, "intact")
    }


def test_prompt_mentions_shape_colour_face_motion_and_background():
    for seed in range(30):
        clip = sample_clip(seed, 1)
        a = clip.attributes
        face = IDENTITIES[a.identity]
        for word in (a.shape, a.colour, face.eye_spacing, face.eye_style, face.mouth,
                     a.background.colour_a, a.background.colour_b):
            assert word in clip.prompt, (word, clip.prompt)
        verb = {"drift": "drifts", "bounce": "bounces", "bob": "bobs", "orbit": "circles"}[a.motion.kind]
        assert verb in clip.prompt
        assert ("floats behind" in clip.prompt) == (a.distractor is not None)


def test_test_splits_are_fixed_sized_and_disjoint_from_training_seeds():
    i2v, t2v = test_split("i2v"), test_split("t2v")
    assert len(i2v) == 64 and len(t2v) == 64
    seeds = [item.seed for item in i2v + t2v]
    assert len(set(seeds)) == 128
    assert not any(is_training_seed(s) or s in VALIDATION_SEEDS for s in seeds)
    assert all(item.start_frame is not None and item.start_frame.shape == (64, 64, 3) for item in i2v)
    assert all(item.start_frame is None for item in t2v)
    assert np.array_equal(i2v[5].start_frame, sample_clip(i2v[5].seed, 1).frames[0])
    assert np.array_equal(i2v[5].reference_clip(3).frames[0], i2v[5].start_frame)
    assert TRAIN_SEEDS.stop <= VALIDATION_SEEDS.start
    assert len({item.prompt for item in i2v}) > 60


def test_validation_items_come_from_validation_seeds_and_never_repeat_test_items():
    from bench.world import validation_items

    items = validation_items("i2v", 8)
    assert [item.index for item in items] == list(range(8))
    assert all(item.seed in VALIDATION_SEEDS for item in items)
    assert not {item.seed for item in items} & {item.seed for item in test_split("i2v")}
    assert np.array_equal(items[3].start_frame, sample_clip(items[3].seed, 1).frames[0])
    assert [item.seed for item in validation_items("i2v", 3)] == [item.seed for item in items[:3]]
    assert validation_items("t2v", 2)[0].start_frame is None
    with pytest.raises(ValueError, match="unknown split kind 'v2v'"):
        validation_items("v2v", 2)


def test_short_and_long_lengths_scale_with_section_length():
    assert SECTIONS == {"short": 2, "long": 12}
    assert num_frames("short", 9) == 18 and num_frames("long", 9) == 108
    with pytest.raises(ValueError, match="length"):
        num_frames("medium", 9)


def test_every_structure_break_and_identity_changes_the_subject_pixels():
    clip = sample_clip(1, 1)
    state = clip.states[0]
    intact = render_state(state, clip.background).astype(int)
    for structure in STRUCTURES[1:]:
        broken = render_state(dataclasses.replace(state, structure=structure), clip.background)
        assert np.abs(broken.astype(int) - intact).sum() > 500, structure
    faces = [render_state(dataclasses.replace(state, identity=i), clip.background) for i in range(NUM_IDENTITIES)]
    for i in range(NUM_IDENTITIES):
        for j in range(i):
            assert np.abs(faces[i].astype(int) - faces[j]).sum() > 300, (i, j)


def _sharpness(image: np.ndarray) -> float:
    gray = image.astype(float).mean(-1)
    return float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())


def test_degradations_grow_with_strength():
    clip = sample_clip(2, 1)
    state, background = clip.states[0], clip.background
    clean = render_state(state, background).astype(float)
    blur = [_sharpness(render_state(state, background, Degradation(blur=s))) for s in (0.0, 0.3, 0.6, 1.0)]
    assert blur == sorted(blur, reverse=True)
    for kind in ("noise", "colour_shift", "blockiness"):
        errors = [np.abs(render_state(state, background, Degradation(**{kind: s}, seed=1)) - clean).mean()
                  for s in (0.2, 0.5, 1.0)]
        assert errors == sorted(errors) and errors[0] > 0, kind
    assert Degradation().level == 0 and Degradation(blur=0.5, noise=0.5).level == pytest.approx(0.75)


def test_bad_inputs_raise_errors_naming_the_value():
    with pytest.raises(ValueError, match="num_frames"):
        sample_clip(0, 0)
    with pytest.raises(ValueError, match="blur"):
        Degradation(blur=1.5)
    with pytest.raises(ValueError, match="i2x"):
        test_split("i2x")
    state = sample_clip(0, 1).states[0]
    with pytest.raises(ValueError, match="star"):
        dataclasses.replace(state, shape="star")


def test_labelled_frames_cover_all_classes():
    rng = np.random.default_rng(0)
    frames = [sample_labelled_frame(rng) for _ in range(300)]
    assert {f.state.shape for f in frames} == set(SHAPES)
    assert {f.state.colour for f in frames} == set(COLOURS)
    assert {f.state.structure for f in frames} == set(STRUCTURES)
    assert any(not f.state.present for f in frames) and any(f.degradation.level > 0 for f in frames)


def _run_world_cli(argv):
    import argparse

    from bench.cli import world

    parser = argparse.ArgumentParser()
    world.add_parser(parser.add_subparsers())
    args = parser.parse_args(["world", *argv])
    return args.func(args)


def test_world_cli_writes_a_clip_its_states_and_a_split(tmp_path, capsys):
    import json

    import pandas as pd

    assert _run_world_cli(["--seed", "4", "--frames", "6", "--out", str(tmp_path / "c.png"),
                           "--states", str(tmp_path / "s.parquet")]) == 0
    assert sample_clip(4, 1).prompt in capsys.readouterr().out
    states = pd.read_parquet(tmp_path / "s.parquet")
    assert len(states) == 6 and states["x"].tolist() == [s.x for s in sample_clip(4, 6).states]
    assert _run_world_cli(["--split", "t2v", "--out", str(tmp_path / "t2v")]) == 0
    items = json.loads((tmp_path / "t2v" / "prompts.json").read_text())
    assert [i["prompt"] for i in items] == [item.prompt for item in test_split("t2v")]
    with pytest.raises(ValueError, match="c.gif"):
        _run_world_cli(["--seed", "1", "--out", str(tmp_path / "c.gif")])


def test_sub_pixel_motion_changes_pixels_gradually():
    clip = sample_clip(6, 1)
    state, background = clip.states[0], clip.background
    base = render_state(dataclasses.replace(state, distractor=None), background).astype(float)
    changes = []
    for shift in (0.1, 0.2, 0.4, 0.8):
        moved = render_state(dataclasses.replace(state, distractor=None, x=state.x + shift), background)
        changes.append(np.abs(moved - base).sum())
    assert changes[0] > 0  # anti-aliased: a tenth of a pixel shows
    ratios = np.array(changes[1:]) / np.array(changes[:-1])
    assert np.all((ratios > 1.5) & (ratios < 2.5)), ratios  # and the change grows ~linearly


def test_junk_frames_are_seeded_uint8_and_of_every_kind():
    from bench.world import JUNK_KINDS, junk_frame

    for kind in JUNK_KINDS:
        a = junk_frame(np.random.default_rng(3), kind)
        assert a.shape == (64, 64, 3) and a.dtype == np.uint8
        assert np.array_equal(a, junk_frame(np.random.default_rng(3), kind))
        assert a.std() > 5, kind  # not a flat frame
    with pytest.raises(ValueError, match="plaid"):
        junk_frame(np.random.default_rng(0), "plaid")
