"""The lab perceptor: checkpoint round trip, input checks, and the committed checkpoint's accuracy."""

import dataclasses

import numpy as np
import pytest
import torch

from bench.world import COLOURS, NUM_IDENTITIES, SHAPES, render_state, sample_clip, test_split
from metrics.lab.perceptor import (
    DEFAULT_CHECKPOINT,
    LabPerceptor,
    LabPerceptorNet,
    PerceptorCheckpointNotFoundError,
    PerceptorConfig,
    crop_around,
    save_perceptor,
)

needs_checkpoint = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no committed perceptor checkpoint")


def _untrained() -> LabPerceptor:
    torch.manual_seed(0)
    return LabPerceptor(LabPerceptorNet(PerceptorConfig(shapes=SHAPES, colours=COLOURS, num_identities=NUM_IDENTITIES)))


def test_save_and_load_round_trip_gives_identical_perceptions(tmp_path):
    perceptor = _untrained()
    path = perceptor.save(tmp_path / "p.safetensors")
    loaded = LabPerceptor.load(path)
    frames = sample_clip(0, 4).frames
    a, b = perceptor.perceive(frames), loaded.perceive(frames)
    for field in ("present", "position", "shape_probs", "colour_probs", "identity", "structure_intact", "degradation"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-6)
    assert loaded.config.shapes == SHAPES and loaded.config.colours == COLOURS


def test_perception_arrays_have_one_row_per_frame_and_normalised_embeddings():
    p = _untrained().perceive(sample_clip(1, 5).frames)
    assert p.present.shape == (5,) and p.position.shape == (5, 2)
    assert p.shape_probs.shape == (5, len(SHAPES)) and p.colour_probs.shape == (5, len(COLOURS))
    np.testing.assert_allclose(np.linalg.norm(p.identity, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p.shape_probs.sum(1), 1.0, rtol=1e-5)
    assert ((p.degradation >= 0) & (p.degradation <= 1)).all()


def test_missing_checkpoint_error_names_the_path_and_how_to_train(tmp_path):
    with pytest.raises(PerceptorCheckpointNotFoundError, match="nowhere.safetensors.*fpbench train"):
        LabPerceptor.load(tmp_path / "nowhere.safetensors")


def test_non_uint8_frames_are_rejected():
    with pytest.raises(ValueError, match="uint8"):
        _untrained().perceive(np.zeros((2, 64, 64, 3), np.float32))


def test_crop_around_centres_the_requested_pixel():
    image = torch.zeros(1, 3, 64, 64)
    image[0, :, 20, 40] = 1.0  # pixel centre (40.5, 20.5)
    # An even-sized crop centred on (41, 21) samples at 41 ± 0.5, 41 ± 1.5, ...: sample 3 hits (40.5, 20.5).
    crop = crop_around(image, torch.tensor([[41.0, 21.0]]), 8)
    assert crop[0, 0, 3, 3] == pytest.approx(1.0)
    assert crop[0, 0].sum() == pytest.approx(1.0)


def test_checkpoint_file_is_small(tmp_path):
    path = save_perceptor(_untrained().net, tmp_path / "p.safetensors")
    assert path.stat().st_size < 5_000_000


# Thresholds below are well under what the committed checkpoint measures (see
# results/checkpoints/perceptor_report.json) and far above chance, so an untrained or broken
# network fails them.


@needs_checkpoint
def test_trained_perceptor_reads_clean_test_start_frames():
    perceptor = LabPerceptor.load()
    items = test_split("i2v")[:32]
    p = perceptor.perceive(np.stack([item.start_frame for item in items]))
    truth = [sample_clip(item.seed, 1).states[0] for item in items]
    assert np.mean(p.present > 0.5) >= 0.95
    error = np.linalg.norm(p.position - np.array([(s.x, s.y) for s in truth]), axis=1)
    assert np.median(error) < 1.5
    assert np.mean(np.array(p.shape) == np.array([s.shape for s in truth])) >= 0.85
    assert np.mean(np.array(p.colour) == np.array([s.colour for s in truth])) >= 0.85
    assert np.mean(p.identity_probs.argmax(1) == np.array([s.identity for s in truth])) >= 0.6
    assert np.mean(p.degradation) < 0.25


@needs_checkpoint
def test_trained_perceptor_separates_absent_broken_and_degraded_frames():
    perceptor = LabPerceptor.load()
    clips = [sample_clip(10_000 + k, 1) for k in range(16)]
    intact, broken, absent, degraded, clean = [], [], [], [], []
    from bench.world import Degradation

    for k, clip in enumerate(clips):
        state, background = clip.states[0], clip.background
        clean.append(clip.frames[0])
        intact.append(clip.frames[0])
        broken.append(render_state(dataclasses.replace(state, structure=("missing_eyes", "torn")[k % 2]), background))
        absent.append(render_state(dataclasses.replace(state, present=False), background))
        degraded.append(render_state(state, background, Degradation(blur=0.8, noise=0.5)))
    read = {name: perceptor.perceive(np.stack(frames)) for name, frames in
            [("intact", intact), ("broken", broken), ("absent", absent), ("degraded", degraded)]}
    assert np.mean(read["absent"].present < 0.5) >= 0.9
    assert np.mean(read["intact"].present > 0.5) >= 0.9
    assert read["intact"].structure_intact.mean() - read["broken"].structure_intact.mean() > 0.4
    assert read["degraded"].degradation.mean() - read["intact"].degradation.mean() > 0.3


@needs_checkpoint
def test_trained_identity_embedding_is_closer_for_the_same_face():
    perceptor = LabPerceptor.load()
    clip = sample_clip(20_000, 1)
    state, background = clip.states[0], clip.background
    rng = np.random.default_rng(0)
    frames, ids = [], []
    for identity in range(NUM_IDENTITIES):
        for _ in range(3):
            moved = dataclasses.replace(state, identity=identity, x=float(rng.uniform(16, 48)),
                                        y=float(rng.uniform(16, 48)))
            frames.append(render_state(moved, background))
            ids.append(identity)
    emb = perceptor.perceive(np.stack(frames)).identity
    ids = np.array(ids)
    cosine = emb @ emb.T
    same = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    different = ids[:, None] != ids[None, :]
    assert cosine[same].mean() - cosine[different].mean() > 0.3


@needs_checkpoint
def test_trained_perceptor_sees_no_subject_in_frames_of_no_world():
    from bench.world import JUNK_KINDS, junk_frame

    rng = np.random.default_rng(123)
    frames = np.stack([junk_frame(rng, kind) for kind in JUNK_KINDS for _ in range(8)])
    read = LabPerceptor.load().perceive(frames)
    assert np.mean(read.present > 0.5) <= 0.1
    assert read.degradation.mean() > 0.6
