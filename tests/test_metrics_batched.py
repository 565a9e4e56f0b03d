"""Paper backends give the same values whatever the batch size (random weights of the real
architectures, on the CPU), and refuse half precision off CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.paper.inference import InferenceSettings
from metrics.registry import get_metric
from metrics.weights import WeightsResolver

pytestmark = pytest.mark.usefixtures("isolated_weight_roots")


def save_at_expected(key, state):
    path = WeightsResolver().expected_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def moving_video(frames: int, size: int) -> np.ndarray:
    """A textured square drifting over noise: different frames, real flow."""
    rng = np.random.default_rng(0)
    background = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    patch = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    for t in range(frames):
        x = (2 * t) % (size - 8)
        video[t, 4:12, x:x + 8] = patch
    return video


def values(metric_name: str, batch_size: int, video: np.ndarray, **options) -> np.ndarray:
    metric = get_metric(metric_name, "paper", device="cpu", batch_size=batch_size, **options)
    return metric(video, prompt="a square drifts right", fps=16).values


@pytest.mark.slow
def test_musiq_clarity_batched_equals_unbatched():
    from pyiqa.archs.musiq_arch import MUSIQ

    save_at_expected("musiq_spaq", MUSIQ(pretrained=False, num_class=1).state_dict())
    video = moving_video(3, 64)
    one, batched = values("clarity", 1, video), values("clarity", 3, video)
    assert one.shape == (3,) and np.ptp(one) > 0  # per-frame values that differ
    np.testing.assert_allclose(batched, one, rtol=0, atol=1e-5)


def test_clip_semantic_batched_equals_unbatched(tiny_clip):
    video = moving_video(5, 64)
    one = values("semantic", 1, video, clip_model=tiny_clip)
    batched = values("semantic", 3, video, clip_model=tiny_clip)
    assert one.shape == (5,) and np.ptp(one) > 0
    np.testing.assert_allclose(batched, one, rtol=0, atol=1e-5)


def test_raft_dynamic_batched_equals_unbatched():
    from torchvision.models.optical_flow import raft_small

    save_at_expected("raft_small", raft_small(weights=None).state_dict())
    video = moving_video(9, 32)
    one = values("dynamic", 1, video, raft="small")
    batched = values("dynamic", 3, video, raft="small")
    assert one.shape == (4,) and np.ptp(one) > 0  # 16 fps -> every other frame: 5 frames, 4 pairs
    np.testing.assert_allclose(batched, one, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_raft_motion_batched_equals_unbatched():
    from torchvision.models.optical_flow import raft_large

    save_at_expected("raft_large", raft_large(weights=None).state_dict())
    video = moving_video(5, 32)
    one = values("motion", 1, video, interpolator="raft")
    batched = values("motion", 2, video, interpolator="raft")
    assert one.shape == (2,)
    np.testing.assert_allclose(batched, one, rtol=0, atol=2 / 255)  # midpoints are rounded to uint8


@pytest.mark.parametrize(("settings", "match"), [
    ({"dtype": "float16", "device": "cpu"}, "CUDA only"),
    ({"dtype": "float64"}, "dtype must be one of"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_inference_settings_are_named(settings, match):
    with pytest.raises(ValueError, match=match):
        InferenceSettings(**settings)


def test_half_precision_is_part_of_the_cache_version_and_float32_is_not():
    assert get_metric("clarity", "paper", device="cpu").cache_version == "1"
    half = get_metric("clarity", "paper", device="cuda", dtype="bfloat16")  # building it touches no GPU
    assert half.cache_version == "1+bfloat16"


def test_the_evaluator_hands_inference_settings_to_network_backends_only():
    from metrics import Evaluator

    evaluator = Evaluator(["clarity", "motion"], ["paper"], inference={"device": "cpu", "batch_size": 7})
    assert [metric.inference.batch_size for metric in evaluator.metrics] == [7, 7]
    classical = Evaluator(["clarity"], ["classical"], inference={"device": "cpu", "batch_size": 7})
    assert not hasattr(classical.metrics[0], "inference")
