import os

import numpy as np
import pytest

from bench.video_io import FrameOrderError, Mp4Sink, read_video


def _ramp_video(frames: int) -> np.ndarray:
    # Each frame a flat grey level, so order is readable after lossy coding.
    levels = np.linspace(20, 235, frames).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (frames, 64, 64, 3)).copy()


def test_out_of_order_chunks_are_assembled_in_time_order(tmp_path):
    video = _ramp_video(12)
    sink = Mp4Sink(tmp_path / "v.mp4", fps=16, lossless_path=tmp_path / "v.npz")
    sink.put(8, video[8:12])  # inverted order: the end first
    sink.put(4, video[4:8])
    assert not (tmp_path / "v.mp4").exists()  # nothing under the final name before close
    sink.put(0, video[0:4])
    sink.close()
    decoded = read_video(tmp_path / "v.mp4")
    assert decoded.shape == (12, 64, 64, 3)
    assert np.abs(decoded.astype(int).mean(axis=(1, 2, 3)) - video.mean(axis=(1, 2, 3))).max() < 3
    np.testing.assert_array_equal(np.load(tmp_path / "v.npz")["frames"], video)
    assert {p.name for p in tmp_path.iterdir()} == {"v.mp4", "v.npz"}  # spill files removed


def test_missing_frames_fail_at_close_and_leave_no_video(tmp_path):
    sink = Mp4Sink(tmp_path / "v.mp4")
    sink.put(0, _ramp_video(4))
    sink.put(8, _ramp_video(4))
    with pytest.raises(FrameOrderError, match="4..7"):
        sink.close()
    assert list(tmp_path.iterdir()) == []


def test_overlapping_chunks_are_rejected(tmp_path):
    sink = Mp4Sink(tmp_path / "v.mp4")
    sink.put(4, _ramp_video(4))
    with pytest.raises(FrameOrderError):
        sink.put(6, _ramp_video(2))


def test_non_mp4_path_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=".mp4"):
        Mp4Sink(tmp_path / "v.avi")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a process that may use at least 2 CPUs")
def test_video_mp4_is_a_pure_function_of_the_frames_whatever_cpus_the_process_may_use(tmp_path):
    from bench.run_store import RunStore

    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 64, (16, 256, 256, 3)) + np.arange(16)[:, None, None, None] * 8).astype(np.uint8)
    store = RunStore(tmp_path)
    store.run_dir("run").mkdir()
    everything = os.sched_getaffinity(0)
    encoded = []
    try:
        for cpus in (everything, {min(everything)}):  # x264 picks its thread count from these
            os.sched_setaffinity(0, cpus)
            store.write_video("run", frames, fps=16)
            sink = Mp4Sink(tmp_path / "sink.mp4", fps=16)
            sink.put(0, frames)
            sink.close()
            encoded.append(((tmp_path / "run" / "video.mp4").read_bytes(), (tmp_path / "sink.mp4").read_bytes()))
    finally:
        os.sched_setaffinity(0, everything)
    assert encoded[0] == encoded[1]
