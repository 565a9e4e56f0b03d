"""Lab Motion (smoothness) and Dynamic (degree): their formulas on synthetic readings, their use of
the perceptor's readings alone, and their validity on altered real clips of the lab world."""

import numpy as np
import pytest
import torch

from metrics.lab.dynamic_degree import lab_dynamic_degree
from metrics.lab.motion_smoothness import flicker, lab_motion_smoothness
from metrics.lab.perceptor import LabPerceptorNet, PerceptorConfig, save_perceptor
from metrics.lab.perceptor_metrics import default_checkpoint
from metrics.lab.world_motion import DYNAMIC_THRESHOLD_PX
from metrics.registry import get_metric

FPS = 16.0


def straight_path(frames: int, speed_px_per_s: float) -> np.ndarray:
    t = np.arange(frames) / FPS
    return np.stack([20 + speed_px_per_s * t, 30 + 0.0 * t], axis=1)


def still_frames(frames: int) -> np.ndarray:
    return np.full((frames, 64, 64, 3), 90, np.uint8)


def test_lab_dynamic_counts_travel_and_not_shaking_in_place():
    present = np.ones(49)
    moving = lab_dynamic_degree(straight_path(49, 5.0), present, 64, 64, FPS)
    assert moving.score == 1.0 and moving.index_kind == "window"
    shaking = np.full((49, 2), 32.0) + np.random.default_rng(0).uniform(-1.5, 1.5, (49, 2))
    assert lab_dynamic_degree(shaking, present, 64, 64, FPS).score == 0.0
    # just under / over the threshold per second of travel
    end_gap = (16 - 3) / FPS  # seconds between the centres of the window's 3-frame ends
    below = lab_dynamic_degree(straight_path(49, 0.9 * DYNAMIC_THRESHOLD_PX / end_gap), present, 64, 64, FPS)
    above = lab_dynamic_degree(straight_path(49, 1.1 * DYNAMIC_THRESHOLD_PX / end_gap), present, 64, 64, FPS)
    assert below.score == 0.0 and above.score == 1.0


def test_lab_dynamic_threshold_scales_with_frame_size_and_ignores_frames_without_subject():
    path, present = straight_path(49, 4.0), np.ones(49)
    assert lab_dynamic_degree(path, present, 64, 64, FPS).score == 1.0
    assert lab_dynamic_degree(path, present, 128, 128, FPS).score == 0.0  # the same px are half the motion
    assert lab_dynamic_degree(path, np.zeros(49), 64, 64, FPS).score == 0.0  # no subject, no subject motion


def test_lab_smoothness_costs_nothing_for_smooth_motion_or_still_frames():
    present = np.ones(33)
    for path in (straight_path(33, 8.0), np.full((33, 2), 30.0)):
        result = lab_motion_smoothness(still_frames(33), path, present, FPS)
        assert result.score == pytest.approx(1.0)
        np.testing.assert_array_equal(result.index, np.arange(1, 32))


def test_lab_smoothness_penalises_a_teleport_at_the_jump_only():
    path = straight_path(33, 5.0)
    path[20:] += [10.0, 0.0]
    result = lab_motion_smoothness(still_frames(33), path, np.ones(33), FPS)
    by_frame = dict(zip(result.index, result.values, strict=True))
    assert by_frame[19] < 0.01 and by_frame[20] < 0.01  # the two triples that straddle the jump
    assert all(v == pytest.approx(1.0) for t, v in by_frame.items() if t not in (19, 20))


def test_lab_smoothness_reads_a_subject_popping_in_or_out_as_a_break():
    present = np.ones(9)
    present[4] = 0.0
    result = lab_motion_smoothness(still_frames(9), straight_path(9, 5.0), present, FPS)
    assert result.values[2] == 0.0 and result.values[3] == 0.0 and result.values[4] == 0.0
    assert result.values[0] == pytest.approx(1.0)


def test_flicker_ignores_monotone_change_and_catches_a_one_frame_flash():
    ramp = np.stack([np.full((8, 8, 3), 10 * t, np.uint8) for t in range(6)])
    np.testing.assert_array_equal(flicker(ramp), 0.0)
    flashed = still_frames(5)
    flashed[2] = 200
    values = flicker(flashed)
    assert values[1] == pytest.approx(110.0) and values[0] == 0.0 and values[2] == 0.0


def test_lab_motion_and_dynamic_score_from_the_perceptor_readings_alone(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_perceptor(LabPerceptorNet(PerceptorConfig()), tmp_path / "random.safetensors")
    video = np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    motion = get_metric("motion", "lab", checkpoint=str(checkpoint))
    dynamic = get_metric("dynamic", "lab", checkpoint=str(checkpoint))
    seen = motion.perceive(video)
    np.testing.assert_array_equal(motion(video).values,
                                  lab_motion_smoothness(video, seen.position, seen.present, FPS).values)
    np.testing.assert_array_equal(dynamic(video).values,
                                  lab_dynamic_degree(seen.position, seen.present, 64, 64, FPS).values)
    assert "perceptor-" in motion.cache_version


def test_lab_then_classical_backend_choice_takes_the_lab_motion_and_dynamic():
    from metrics.evaluate import resolve_backends

    assert resolve_backends(["motion", "dynamic"], ["lab", "classical"]) == [("motion", "lab"), ("dynamic", "lab")]


@pytest.fixture(scope="module")
def validity():
    if not default_checkpoint().is_file():
        pytest.skip(f"the committed lab perceptor is missing: {default_checkpoint()}")
    torch.set_num_threads(1)
    from bench.benchmarks.motion_validity import validity_report

    return validity_report(clips=6, frames=49)["metrics"]


@pytest.mark.slow
def test_lab_dynamic_ranks_travelling_subjects_above_still_and_shaking_ones(validity):
    dynamic = validity["dynamic[lab]"]
    assert dynamic["min_auc"] >= 0.95
    assert dynamic["mean"]["real"] >= 0.8 and max(dynamic["mean"]["frozen"], dynamic["mean"]["shaking"]) <= 0.1
    assert abs(dynamic["real_minus_reversed"]) <= 0.1


@pytest.mark.slow
def test_lab_motion_ranks_smooth_and_still_above_jitter_teleports_and_speckle(validity):
    motion = validity["motion[lab]"]
    assert motion["min_auc"] >= 0.95
    assert motion["mean"]["real"] >= 0.95 and abs(motion["real_minus_reversed"]) <= 0.02
