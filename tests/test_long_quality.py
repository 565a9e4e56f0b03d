"""Long-video quality curves: per-section readings of real and static videos, which rows are measured,
and in which order each sampler generates its sections."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.benchmarks.long_quality import committed_rows, generation_order, onset, section_curves
from metrics.lab.perceptor_metrics import default_checkpoint


@pytest.fixture(scope="module")
def perceptor():
    if not default_checkpoint().is_file():
        pytest.skip(f"the committed lab perceptor is missing: {default_checkpoint()}")
    from metrics.lab.perceptor import LabPerceptor

    torch.set_num_threads(1)
    return LabPerceptor.load()


def test_a_real_clip_keeps_its_subject_and_moves_at_its_true_speed_per_section(perceptor):
    from bench.world import validation_items

    item = validation_items("i2v", 3)[2]
    clip = item.reference_clip(1 + 3 * 9)
    curves, scores = section_curves(perceptor, clip.frames, 9)
    assert min(curves["identity_kept"]) >= 0.9 and min(curves["shape_kept"]) >= 0.9 and min(curves["presence"]) == 1
    truth = np.array([[s.x, s.y] for s in clip.states])
    true_speed = [np.linalg.norm(truth[9 * (s + 1)] - truth[9 * s]) / 9 for s in range(3)]
    np.testing.assert_allclose(curves["motion_px_per_frame"], true_speed, atol=0.1)
    assert scores["dynamic_lab"] > 0.5 and scores["motion_lab"] > 0.9

    still, still_scores = section_curves(perceptor, np.repeat(clip.frames[:1], 28, axis=0), 9)
    np.testing.assert_array_equal(still["motion_px_per_frame"], 0.0)
    assert still_scores["dynamic_lab"] == 0.0 and min(still["identity_kept"]) == 1.0


def test_onset_is_the_first_section_below_the_level():
    assert onset([0.9, 0.6, 0.4, 0.7], 0.5) == 3
    assert onset([0.9, 0.6], 0.5) is None


def test_committed_rows_are_fp_and_bl_checkpoints_without_codebooks(tmp_path):
    for name in ("fp_vanilla", "fp_vanilla_d", "fp_vanilla_d_codebook", "bl_anchor_frames", "base", "perceptor"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    assert list(committed_rows(tmp_path)) == ["fp_vanilla", "fp_vanilla_d", "bl_anchor_frames"]


def test_generation_order_puts_the_inverted_orders_sections_next_to_the_start_last():
    from types import SimpleNamespace

    from framepack.schedule import Schedule
    from framepack.section_plan import plan_sections

    def order_of(text: str) -> list[int] | None:
        schedule = Schedule.parse(text)
        plan = lambda request: plan_sections(schedule, request.num_sections, schedule.form, has_start=True)  # noqa: E731
        return generation_order(SimpleNamespace(plan=plan), 4)

    assert order_of("f1k1_x_g9_f1k1f2k2f16k4_td") == [3, 2, 1, 0]
    assert order_of("td_f16k4f4k2f1k1_g9") == [0, 1, 2, 3]
    assert order_of("td_f16k4f4k2f1k1_g9_x_f1k1") == [0, 2, 3, 1]  # start and end first, then the fill-in
    assert generation_order(SimpleNamespace(), 4) is None  # a baseline: no section plan, time order


def test_report_sets_each_row_beside_the_real_clips_and_reorders_by_generation_step(perceptor):
    from bench.benchmarks.long_quality import long_quality_report
    from bench.world import validation_items

    items = validation_items("i2v", 2)
    videos = [item.reference_clip(1 + 4 * 9).frames for item in items]  # a "row" that generates the real clips
    generated = {"copy": {"videos": videos, "frames_per_section": 9, "order": "anti_drifting",
                          "generation_order": [0, 2, 3, 1]}}
    report = long_quality_report(generated, items, sections=4)
    entry = report["rows"]["copy"]
    assert entry["curves"] == report["real"]["9_frames_per_section"]["curves"]
    motion = entry["curves"]["motion_px_per_frame"]
    assert entry["curves_by_generation_step"]["motion_px_per_frame"] == [motion[0], motion[3], motion[1], motion[2]]
    assert report["by_order"]["anti_drifting"]["rows"] == ["copy"]
    assert report["real"]["9_frames_per_section"]["static_video_scores"]["dynamic_lab"] == 0.0
