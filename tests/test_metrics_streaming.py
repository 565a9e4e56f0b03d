"""Measuring a video chunk by chunk gives the whole-video results (paper backends on random weights),
and the chunked reader hands every frame over once, in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.registry import get_metric
from metrics.streaming import chunk_length, chunks_of, read_video_chunks
from metrics.video_reader import read_video, write_video
from metrics.weights import WeightsResolver

pytestmark = pytest.mark.usefixtures("isolated_weight_roots")


def moving_video(frames: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(1)
    video = np.repeat((rng.random((size, size, 3)) * 255).astype(np.uint8)[None], frames, axis=0)
    patch = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    for t in range(frames):
        x = (3 * t) % (size - 8)
        video[t, 4:12, x:x + 8] = patch
    return video


def assert_same_result(streamed, whole):
    np.testing.assert_allclose(streamed.values, whole.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(streamed.index, whole.index)
    assert streamed.index_kind == whole.index_kind
    assert streamed.score == pytest.approx(whole.score, abs=1e-6)


@pytest.fixture
def raft_small():
    from torchvision.models.optical_flow import raft_small

    path = WeightsResolver().expected_path("raft_small")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(raft_small(weights=None).state_dict(), path)


@pytest.mark.parametrize("frames", [17, 23])
def test_dynamic_degree_streamed_equals_whole(raft_small, frames):
    metric = get_metric("dynamic", "paper", raft="small", device="cpu", batch_size=4)
    video = moving_video(frames)
    whole = metric(video, fps=16)
    streamed = metric.stream(chunks_of(video, chunk_length(4, 16)), fps=16)
    assert_same_result(streamed, whole)
    assert streamed.details["pairs_needed"] == whole.details["pairs_needed"]


def test_clip_semantic_streamed_equals_whole(tiny_clip):
    metric = get_metric("semantic", "paper", clip_model=tiny_clip, device="cpu")
    video = moving_video(7)
    assert_same_result(metric.stream(chunks_of(video, 2), "a square", fps=16), metric(video, "a square", fps=16))


class PreviousFrame(torch.nn.Module):
    """An 'interpolator' that returns its first input (frame interpolation contract, no weights)."""

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return frame0 * (1 - t) + frame1 * t * 0


@pytest.mark.parametrize("frames", [9, 10])
def test_motion_triplets_streamed_equal_whole(frames):
    path = WeightsResolver().expected_path("frame_interpolator")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(PreviousFrame()), str(path))
    metric = get_metric("motion", "paper", device="cpu")
    video = moving_video(frames)
    assert_same_result(metric.stream(chunks_of(video, 4), fps=16), metric(video, fps=16))


def test_chunked_reader_hands_over_every_frame_once_in_order(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, moving_video(11), fps=16)
    chunks = list(read_video_chunks(path, 4))
    assert [(first, len(frames), last) for first, frames, last in chunks] == [(0, 5, False), (4, 5, False),
                                                                            (8, 3, True)]
    joined = np.concatenate([frames if last else frames[:-1] for _, frames, last in chunks])
    np.testing.assert_array_equal(joined, read_video(path).frames)


def test_evaluator_streams_long_videos_to_the_same_rows(raft_small, tmp_path):
    from metrics import Evaluator

    path = tmp_path / "clip.mp4"
    write_video(path, moving_video(21), fps=16)
    evaluator = Evaluator(["dynamic"], ["paper"], options={"dynamic": {"raft": "small"}},
                          inference={"device": "cpu"})
    whole = evaluator.evaluate_files([path])
    streamed = evaluator.evaluate_files([path], chunk_frames=4)
    assert (whole["error"] == "").all() and len(streamed) == len(whole)
    np.testing.assert_allclose(streamed["value"].to_numpy(), whole["value"].to_numpy(), rtol=1e-5, atol=1e-6)


def test_a_bad_file_streamed_is_an_error_row(tmp_path):
    from metrics import Evaluator

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    rows = Evaluator(["motion"], ["paper"], inference={"device": "cpu"}).evaluate_files([bad], chunk_frames=8)
    assert len(rows) == 1 and "broken.mp4" in rows["error"].iloc[0]


def test_identity_streamed_keeps_the_first_face_of_the_video_as_reference(dlib_identity_and_face):
    metric, face = dlib_identity_and_face
    video = np.stack([np.roll(face, shift, axis=1) for shift in (0, 3, 6, 9, 12)])
    whole = metric(video)
    streamed = metric.stream(chunks_of(video, 2))
    assert_same_result(streamed, whole)
    assert streamed.details["reference_frame"] == 0 and len(streamed.values) == 4
