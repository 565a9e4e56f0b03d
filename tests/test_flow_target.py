"""The world's true motion as flow targets, and the loss that supervises a warped anchor's flow with it."""

import random

import numpy as np
import pytest
import torch

from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, random_batch
from bench.train.flow_target import MOTION_COLUMNS, flow_targets, motion_table
from bench.train.objective import flow_supervision_loss, true_flow, warp_matching_loss
from bench.world import sample_clip
from framepack.lab.anchor_warp import PixelView
from framepack.lab.codec import LabCodec, LabCodecConfig
from framepack.lab.context_anchor import nearest_context
from framepack.lab.model import Anchors


def row(subject=(20.0, 20.0, 8.0), distractor=(0.0, 0.0, 0.0), background=(0.0, 0.0)) -> torch.Tensor:
    return torch.tensor([*subject, *distractor, *background]).view(1, 1, len(MOTION_COLUMNS))


def test_each_pixel_takes_the_motion_of_what_is_drawn_there():
    anchor = row(subject=(20.0, 20.0, 8.0), distractor=(52.0, 48.0, 10.0), background=(1.0, 0.0))
    target = row(subject=(23.0, 20.0, 8.0), distractor=(52.0, 44.0, 10.0), background=(1.5, 0.0))
    flow = flow_targets(target, anchor, patch=8)  # (1, 2, 1, 8, 8)
    assert flow.shape == (1, 2, 1, 8, 8)
    # latent pixel (2, 2) covers px 16-23: inside the subject (centre 23, 20, radius 8)
    assert flow[0, :, 0, 2, 2].tolist() == pytest.approx([3.0, 0.0])
    # (5, 6) covers px x 48-55, y 40-47: inside the distractor (centre 52, 44, radius 10)
    assert flow[0, :, 0, 5, 6].tolist() == pytest.approx([0.0, -4.0])
    # a latent pixel on the subject's edge averages its motion with the background's
    assert 0.5 < flow[0, 0, 0, 1, 3].item() < 3.0
    # far from both sprites: the background's pan
    assert flow[0, :, 0, 0, 7].tolist() == pytest.approx([0.5, 0.0])


def test_motion_table_follows_the_rendered_clip():
    clip = sample_clip(7, 5)
    table = motion_table([7], 5)
    assert table.shape == (1, 5, len(MOTION_COLUMNS))
    assert table[0, :, 0].tolist() == pytest.approx([s.x for s in clip.states], abs=1e-4)
    assert table[0, :, 1].tolist() == pytest.approx([s.y for s in clip.states], abs=1e-4)


@pytest.fixture(scope="module")
def world_pool(tmp_path_factory):
    frames = np.concatenate([sample_clip(seed, 3).frames for seed in range(8)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=12, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    pool = LatentClipPool.build(codec, "heldout", 6, 40, 0, cache_dir=None, show_progress=False)
    view = PixelView(12, 8)
    view.copy_from_codec(codec)
    return pool, view


def test_warping_the_anchor_by_the_true_flow_explains_most_of_the_motion(world_pool):
    pool, view = world_pool
    choices = [PlanChoice("td_f2k2f1k1_g9", "vanilla", has_start=True)]
    _, batch = random_batch(pool, choices, 3, 6, random.Random(0))
    anchor, _ = nearest_context(batch.target.shape, batch.noisy_indices, batch.context, batch.start_latent)
    truth = true_flow(batch, pool.motion, 8)
    ids = batch.clip_ids[:, None]
    torch.testing.assert_close(truth, flow_targets(pool.motion[ids, batch.target_frames],
                                                   pool.motion[ids, batch.nearest_frames], 8))
    assert truth.abs().max() > 1.0  # the clips move
    moved = warp_matching_loss(view, Anchors(anchor, view.warp(anchor, truth)), batch.target, 1.0)
    backwards = warp_matching_loss(view, Anchors(anchor, view.warp(anchor, -truth)), batch.target, 1.0)
    assert moved.item() < 0.7 < 1.3 < backwards.item()

    exact = flow_supervision_loss(Anchors(anchor, anchor, truth), batch, truth)
    still = flow_supervision_loss(Anchors(anchor, anchor, torch.zeros_like(truth)), batch, truth)
    assert exact.item() == pytest.approx(0.0, abs=1e-6) and still.item() == pytest.approx(1.0)
    # frames whose anchor is not the copy-last frame are not supervised
    other = flow_supervision_loss(Anchors(anchor + 1.0, anchor, torch.zeros_like(truth)), batch, truth)
    assert other.item() == 0.0
