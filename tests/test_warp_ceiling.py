"""The warp-ceiling diagnostic: the true flow moves the start frame towards the real continuation."""

import numpy as np

from bench.benchmarks.warp_ceiling import ceiling_videos
from bench.world import split_items
from framepack.lab_codec import LabCodec


def test_true_flow_warp_is_closer_to_the_real_frames_than_copying_the_start():
    codec = LabCodec.load("results/checkpoints/codec.safetensors")
    variants = ceiling_videos(codec, split_items("validation", "i2v", 4), frames=10)
    warped, real, truth = variants["true_flow_warp"]
    copied = variants["copy_start"][0]
    assert len(warped) == 4 and all(v.shape == (10, 64, 64, 3) for v in warped)
    assert all(np.array_equal(w[0], r[0]) for w, r in zip(warped, real, strict=True))  # the start frame is given

    def error(videos):
        return np.mean([((v[1:].astype(float) - r[1:]) ** 2).mean() for v, r in zip(videos, real, strict=True)])

    assert error(warped) < 0.8 * error(copied)
    assert error(variants["true_flow_warp_bicubic"][0]) < 0.8 * error(copied)
    assert len(truth[0]) == 10


def test_replacing_the_flow_needs_a_warped_model():
    import pytest

    from bench.benchmarks.warp_ceiling import sample_with_true_flow

    with pytest.raises(ValueError, match="no anchor_warp"):
        sample_with_true_flow("results/checkpoints/fp_inverted.safetensors", "results/checkpoints/codec.safetensors",
                              split_items("validation", "i2v", 1), frames=10)
