"""The warp-ceiling diagnostic: the true flow moves the start frame towards the real continuation."""

import numpy as np

from bench.benchmarks.warp_ceiling import ceiling_videos
from bench.world import split_items
from framepack.lab.codec import LabCodec


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
    assert error(variants["true_rigid_motion_bicubic"][0]) < 0.8 * error(copied)
    assert error(variants["true_rigid_motion_bicubic_refined"][0]) < 0.8 * error(copied)  # the codec has a refiner
    assert len(truth[0]) == 10


def test_replacing_the_flow_needs_a_warped_model():
    import pytest

    from bench.benchmarks.warp_ceiling import sample_with_true_flow

    with pytest.raises(ValueError, match="no anchor_warp"):
        sample_with_true_flow("results/checkpoints/base.safetensors", "results/checkpoints/codec.safetensors",
                              split_items("validation", "i2v", 1), frames=10)


def test_a_motion_prior_checkpoint_samples_with_the_true_motion_in_place_of_its_draw():
    from bench.benchmarks.warp_ceiling import sample_with_true_flow, true_motion
    from bench.train.flow_target import motion_rows

    items = split_items("validation", "i2v", 2)
    videos = sample_with_true_flow("results/checkpoints/fp_inverted.safetensors", "results/checkpoints/codec.safetensors",
                                   items, frames=10)
    assert [v.shape for v in videos] == [(10, 64, 64, 3)] * 2
    assert all(np.array_equal(v[0], item.start_frame) for v, item in zip(videos, items, strict=True))
    motion = true_motion(motion_rows(items[0].reference_clip(10).states), 9)
    assert motion.velocity.shape == (1, 2) and motion.membership.shape == (1, 9, 32, 32)
    assert 0 < motion.membership[0, 0].mean() < 0.5  # the subject covers part of the start frame
