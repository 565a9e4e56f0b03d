"""Image-to-video fidelity (VBench-I2V i2v_subject / i2v_background): score formula, lab backends on
known substitutions, paper backends with random weights in the real file formats."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from bench.world import COLOURS, SHAPES, sample_attributes, states_for, test_split
from bench.world.render import render_states
from metrics import evaluate
from metrics.i2v_score import BACKGROUND_WEIGHTS, SUBJECT_WEIGHTS, cosine_i2v_result
from metrics.weights import MissingWeightsError

FRAMES = 24


def score(frames, reference, name, backend="lab", **options):
    results = evaluate(frames, names=[name], backends=backend, reference=reference, on_error="raise", **options)
    return results[results["kind"] == "video"]["value"].iloc[0], results[results["kind"] == "frame"]["value"].to_numpy()


def test_score_is_vbench_weighting_of_max_conformity_and_consecutive_similarity():
    image = np.array([1.0, 0.0])
    frames = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # cos to image 1, 0, -1 -> clipped 1, 0, 0
    result = cosine_i2v_result(frames, image, BACKGROUND_WEIGHTS)
    np.testing.assert_allclose(result.values, [1.0, 0.0, 0.0])
    # consecutive cosines 0, 0 -> 0.4 * 1 + 0.3 * 0 + 0.3 * 0
    assert result.score == pytest.approx(0.4)
    steady = cosine_i2v_result(np.ones((4, 3)), np.ones(3), SUBJECT_WEIGHTS)
    assert steady.score == pytest.approx(1.0)


@pytest.fixture(scope="module")
def item_and_clips():
    item = test_split("i2v")[1]
    a = item.attributes
    states = states_for(a, FRAMES, 16.0)
    real = render_states(states, a.background)
    colour = next(c for c in COLOURS if c != a.colour)
    shape = next(s for s in SHAPES if s != a.shape)
    other_subject = [dataclasses.replace(s, colour=colour, shape=shape, identity=(a.identity + 1) % 12) for s in states]
    other_background = sample_attributes(np.random.default_rng(7)).background
    half = FRAMES // 2
    swapped_subject = np.concatenate([real[:half], render_states(other_subject, a.background)[half:]])
    swapped_background = np.concatenate([real[:half], render_states(states, other_background)[half:]])
    return item, real, swapped_subject, swapped_background


def test_lab_subject_fidelity_falls_when_the_subject_changes_and_not_when_the_background_does(item_and_clips):
    item, real, swapped_subject, swapped_background = item_and_clips
    _, real_curve = score(real, item.start_frame, "i2v_subject")
    _, subject_curve = score(swapped_subject, item.start_frame, "i2v_subject")
    _, background_curve = score(swapped_background, item.start_frame, "i2v_subject")
    half = FRAMES // 2
    assert real_curve.min() > 0.9
    assert subject_curve[half:].mean() < real_curve[half:].mean() - 0.3
    assert background_curve[half:].mean() > subject_curve[half:].mean() + 0.2


def test_lab_background_fidelity_falls_when_the_background_changes_and_not_when_the_subject_does(item_and_clips):
    item, real, swapped_subject, swapped_background = item_and_clips
    real_score, real_curve = score(real, item.start_frame, "i2v_background")
    low_score, background_curve = score(swapped_background, item.start_frame, "i2v_background")
    _, subject_curve = score(swapped_subject, item.start_frame, "i2v_background")
    half = FRAMES // 2
    assert real_curve.min() > 0.97 and real_score > low_score
    assert background_curve[half:].mean() < real_curve[half:].mean() - 0.03
    assert subject_curve[half:].mean() > background_curve[half:].mean() + 0.02


def test_fidelity_needs_the_input_image():
    frames = np.zeros((4, 64, 64, 3), np.uint8)
    results = evaluate(frames, names=["i2v_subject"], backends="lab")
    assert (results["kind"] == "error").all() and "input image" in results["error"].iloc[0]


def _tiny_dino_state() -> dict:
    import timm

    torch.manual_seed(0)
    model = timm.models.vision_transformer.VisionTransformer(img_size=224, patch_size=16, embed_dim=64, depth=2,
                                                             num_heads=1, num_classes=0)
    return model.state_dict()


class RandomEmbedder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 16, stride=16)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


@pytest.fixture(scope="module")
def paper_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("i2v_weights")
    torch.save(_tiny_dino_state(), folder / "dino_vitbase16_pretrain.pth")  # the DINO state_dict format
    torch.manual_seed(0)
    torch.jit.script(RandomEmbedder()).save(str(folder / "dreamsim_embed.pt"))
    return str(folder)


@pytest.mark.parametrize("name", ["i2v_subject", "i2v_background"])
def test_paper_backends_run_on_random_weights_in_the_real_format(item_and_clips, paper_weights, name):
    item, real, swapped_subject, _ = item_and_clips
    value, curve = score(np.repeat(item.start_frame[None], 4, 0), item.start_frame, name, "paper",
                         weights_dir=paper_weights)
    assert value == pytest.approx(1.0, abs=1e-5) and np.allclose(curve, 1.0, atol=1e-5)
    value, curve = score(real[:6], item.start_frame, name, "paper", weights_dir=paper_weights)
    assert len(curve) == 6 and 0.0 <= value <= 1.0 + 1e-9


@pytest.mark.parametrize("name, filename", [("i2v_subject", "dino_vitbase16_pretrain.pth"),
                                            ("i2v_background", "dreamsim_embed.pt")])
def test_paper_backends_without_weights_name_the_file_and_where_it_goes(tmp_path, name, filename):
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    with pytest.raises(MissingWeightsError, match=f"{filename}.*never downloaded.*Place it at"):
        evaluate(frames, names=[name], backends="paper", reference=frames[0], weights_dir=tmp_path, on_error="raise")
