"""Registry, tidy results, cache, drift and the video reader of the metrics package."""

import numpy as np
import pandas as pd
import pytest

from metrics import Evaluator, MetricCache, evaluate, read_results, write_results
from metrics.drift import contrast, start_end_contrast, window_curves, window_size
from metrics.metric import Metric, MetricResult
from metrics.registry import get_metric, metric_classes, register
from metrics.results import RESULT_COLUMNS
from metrics.video_reader import VideoReadError, read_video, write_video


@register
class CountingBrightness(Metric):
    """Test metric: per-frame mean brightness; counts its calls."""

    name = "test_brightness"
    backend = "lab"
    granularity = "per_frame"
    calls = 0

    def measure(self, frames, prompt, reference, fps):
        type(self).calls += 1
        values = frames.reshape(len(frames), -1).mean(axis=1) / 255.0
        return MetricResult(values, np.arange(len(values)), "frame", float(values.mean()))


def ramp_video(frames=20, size=16):
    levels = np.linspace(0, 255, frames).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (frames, size, size, 3)).copy()


def test_registry_lists_every_metric_with_backend_and_granularity():
    keys = {(cls.name, cls.backend) for cls in metric_classes()}
    assert {("motion", "classical"), ("dynamic", "classical"), ("clarity", "classical")} <= keys
    for cls in metric_classes():
        assert cls.granularity in ("per_frame", "per_pair", "per_triplet", "per_window", "per_video")
        assert cls.direction in ("higher", "lower", "neutral")


def test_unknown_metric_and_missing_backend_are_named_in_the_error():
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        get_metric("nope", "lab")
    with pytest.raises(ValueError, match="has no 'lab' backend"):
        get_metric("clarity_piqe", "lab")


def test_results_are_tidy_rows_with_units_then_video_score(tmp_path):
    table = evaluate(ramp_video(), names=["test_brightness"], backends="lab", video="v1")
    assert list(table.columns) == RESULT_COLUMNS
    units = table[table.kind == "frame"]
    assert list(units["index"]) == list(range(20))
    score = table[table.kind == "video"]["value"].item()
    assert score == pytest.approx(units["value"].mean())
    path = write_results(table, tmp_path / "out" / "m.parquet")
    pd.testing.assert_frame_equal(read_results(path), table)


def test_cache_recomputes_only_changed_videos(tmp_path):
    cache = MetricCache(tmp_path / "cache")
    video_a, video_b = ramp_video(), ramp_video()[::-1].copy()
    CountingBrightness.calls = 0
    evaluator = Evaluator(["test_brightness"], "lab", cache=cache)
    first = evaluator.evaluate(video_a, video="a")
    evaluator.evaluate(video_b, video="b")
    assert CountingBrightness.calls == 2
    again = Evaluator(["test_brightness"], "lab", cache=tmp_path / "cache")
    repeat = again.evaluate(video_a, video="a")
    assert CountingBrightness.calls == 2 and again.cache.hits == 1
    pd.testing.assert_frame_equal(first, repeat)
    changed = video_a.copy()
    changed[3, 0, 0, 0] ^= 1
    again.evaluate(changed, video="a")
    assert CountingBrightness.calls == 3


def test_corrupt_cache_entry_is_a_miss_and_is_recomputed(tmp_path):
    cache = MetricCache(tmp_path)
    evaluator = Evaluator(["test_brightness"], "lab", cache=cache)
    evaluator.evaluate(ramp_video())
    for entry in tmp_path.rglob("*.json"):
        entry.write_text("{not json")
    CountingBrightness.calls = 0
    evaluator.evaluate(ramp_video())
    assert CountingBrightness.calls == 1


def test_drift_window_is_15_percent_of_units_at_least_one():
    assert window_size(20) == 3
    assert window_size(100) == 15
    assert window_size(2) == 1  # one pair / one triplet at least
    with pytest.raises(ValueError, match="at least 2 units"):
        window_size(1)


def test_start_end_contrast_is_absolute_difference_of_window_means():
    values = np.array([1.0, 2.0, 3.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5.0, 7.0, 9.0])
    start, end, delta = contrast(values)
    assert (start, end, delta) == (2.0, 7.0, 5.0)
    assert contrast(values[::-1])[2] == 5.0  # independent of generation order


def test_drift_from_stored_rows_matches_direct_values_and_never_calls_the_metric():
    table = evaluate(ramp_video(20), names=["test_brightness"], backends="lab", video="v")
    CountingBrightness.calls = 0
    drift = start_end_contrast(table)
    assert CountingBrightness.calls == 0
    values = table[table.kind == "frame"]["value"].to_numpy()
    assert drift["delta"].item() == pytest.approx(abs(values[:3].mean() - values[-3:].mean()))
    assert drift["window_units"].item() == 3


def test_window_curves_split_units_into_n_contiguous_windows():
    table = evaluate(ramp_video(20), names=["test_brightness"], backends="lab")
    curve = window_curves(table, n_windows=10)
    assert len(curve) == 10
    assert list(curve["first_unit"]) == list(range(0, 20, 2))
    assert np.all(np.diff(curve["value"]) > 0)  # brightness ramps up
    assert len(window_curves(table.iloc[:4], n_windows=10)) == 4  # fewer units than windows


def test_video_reader_round_trips_and_rejects_bad_files_by_name(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, ramp_video(6, 32))
    video = read_video(good)
    assert video.frames.shape == (6, 32, 32, 3) and video.fps == 16
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    one = tmp_path / "one.mp4"
    write_video(one, ramp_video(1, 32))
    for path, message in [(truncated, "corrupt / truncated"), (garbage, "cannot be decoded"),
                          (empty, "0 bytes"), (one, "1 frame"), (tmp_path / "missing.mp4", "no such file")]:
        with pytest.raises(VideoReadError, match=message) as info:
            read_video(path)
        assert str(path) in str(info.value)


def test_bad_videos_get_error_rows_and_the_others_are_still_measured(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, ramp_video(6, 32))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk")
    table = Evaluator(["test_brightness"], "lab").evaluate_files([bad, good])
    errors = table[table.kind == "error"]
    assert list(errors["video"]) == [str(bad)] and "bad video" in errors["error"].item()
    assert errors["value"].isna().all()
    assert len(table[(table.video == str(good)) & (table.kind == "frame")]) == 6


def test_too_short_video_is_recorded_as_an_error_not_a_value():
    table = evaluate(ramp_video(2), names=["motion"], backends="classical")
    assert table["kind"].item() == "error" and "at least 3 frames" in table["error"].item()


def test_evaluate_files_uses_each_video_frame_rate_for_vbench_sampling(tmp_path):
    frames = ramp_video(16, 32)
    write_video(tmp_path / "slow.mp4", frames, fps=8)
    write_video(tmp_path / "fast.mp4", frames, fps=32)
    table = Evaluator(["dynamic"], "classical").evaluate_files([tmp_path / "slow.mp4", tmp_path / "fast.mp4"])
    pairs = table[table.kind == "pair"].groupby("video").size()
    assert pairs[str(tmp_path / "slow.mp4")] == 15  # 8 fps: every frame
    assert pairs[str(tmp_path / "fast.mp4")] == 3   # 32 fps: every 4th frame (0, 4, 8, 12)
