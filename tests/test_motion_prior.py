"""The motion prior: a section's subject velocity drawn once, and the rigid flow it gives a warped anchor."""

import random

import numpy as np
import pytest
import torch
from conftest import WORLD_CODEC_CHANNELS as CHANNELS
from test_model import make_model

from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, random_batch
from bench.train.objective import flow_matching_loss_at, motion_prior_loss, true_section_motion
from bench.train.true_motion import MOTION_COLUMNS, section_velocity, subject_coverage
from bench.world import sample_clip
from framepack.framepack_generator import FramePackGenerator
from framepack.generator import GenerationRequest, MemorySink
from framepack.kernels import K1
from framepack.lab.codec import LabCodec
from framepack.lab.model import PackedDiT
from framepack.lab.motion_prior import (
    VELOCITY_STEP_PX,
    SectionMotion,
    rigid_flow,
    soft_velocity_target,
    velocity_bins,
)
from framepack.lab.text_encoder import LabTextEncoder
from framepack.packed_group import PackedGroup


@pytest.fixture(scope="module")
def codec(world_linear_codec) -> LabCodec:
    return world_linear_codec


def prior_model(codec: LabCodec, seed: int = 0) -> PackedDiT:
    model = make_model(seed, latent_channels=CHANNELS, motion_prior=True)
    model.pixel_view.copy_from_codec(codec)
    return model


def i2v_section(codec: LabCodec, batch: int = 2, frames: int = 4):
    start = codec.encode_uint8(sample_clip(3, 1).frames)[:, :, 0].expand(batch, -1, -1, -1)
    context = [PackedGroup(start[:, :, None], torch.arange(0, 1), K1)]
    noisy = torch.randn(batch, CHANNELS, frames, 8, 8, generator=torch.Generator().manual_seed(0))
    cond = LabTextEncoder(97, 32).condition(["a red circle drifts right"] * batch, start)
    return noisy, torch.arange(1, 1 + frames), context, cond


def test_soft_target_is_a_distribution_whose_mean_is_the_velocity():
    velocity = torch.tensor([[0.3, -1.1], [2.0, 0.0], [9.0, -9.0]])
    target = soft_velocity_target(velocity)
    torch.testing.assert_close(target.sum(dim=1), torch.ones(3))
    mean = target @ velocity_bins()
    torch.testing.assert_close(mean[:2], velocity[:2])
    torch.testing.assert_close(mean[2], torch.tensor([2.5, -2.5]))  # clamped to the grid


def test_rigid_flow_moves_the_subject_where_it_arrives_and_nothing_else():
    membership = torch.zeros(1, 2, 32, 32)
    membership[:, :, 10:14, 10:14] = 1.0  # px 20-27 in both anchors
    flow = rigid_flow(torch.tensor([[1.0, -0.5]]), membership, torch.tensor([[4.0, -4.0]]))
    assert flow.shape == (1, 2, 2, 32, 32)
    ahead = (flow[0, 0, 0] != 0).nonzero()
    # 4 frames later: moved +4 px (2 cells) right and 2 px (1 cell) up, with that displacement
    assert ahead[:, 1].unique().tolist() == [12, 13, 14, 15] and ahead[:, 0].unique().tolist() == [9, 10, 11, 12]
    assert flow[0, :, 0, 11, 13].tolist() == pytest.approx([4.0, -2.0])
    # an anchor 4 frames later: the frame is where the subject was 4 frames before, displaced back
    behind = (flow[0, 0, 1] != 0).nonzero()
    assert behind[:, 1].unique().tolist() == [8, 9, 10, 11]
    assert flow[0, :, 1, 11, 9].tolist() == pytest.approx([-4.0, 2.0])
    assert flow[0, :, 0, 0, 0].tolist() == [0.0, 0.0]


def test_draws_come_from_the_distribution_and_repeat_under_a_seed(codec):
    prior = prior_model(codec).motion_prior
    logits = torch.full((2, velocity_bins().shape[0]), -30.0)
    peaks = [5, 300]
    logits[0, peaks[0]] = logits[1, peaks[1]] = 0.0
    first = prior.draw(logits, torch.Generator().manual_seed(1))
    again = prior.draw(logits, torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, again)
    for row, peak in enumerate(peaks):
        assert (first[row] - velocity_bins()[peak]).abs().max() <= VELOCITY_STEP_PX / 2
    # two peaks: draws land on both, never on their mean
    logits = torch.full((400, velocity_bins().shape[0]), -30.0)
    up, down = velocity_bins()[:, 1].argmin(), velocity_bins()[:, 1].argmax()
    logits[:, up] = logits[:, down] = 0.0
    drawn = prior.draw(logits, torch.Generator().manual_seed(2))[:, 1]
    assert 0.35 < (drawn > 0).float().mean() < 0.65 and drawn.abs().min() > 2.0


@torch.no_grad()
def test_a_still_motion_is_the_plain_anchored_model_and_a_drawn_one_moves_the_anchor(codec):
    model = prior_model(codec)
    noisy, indices, context, cond = i2v_section(codec)
    plain = PackedDiT(type(model.config).from_dict({**model.config.to_dict(), "motion_prior": False})).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith(("motion_prior", "pixel_view"))})
    t = torch.full((2, indices.numel()), 0.7)
    still = SectionMotion(torch.zeros(2, 2))
    torch.testing.assert_close(model(noisy, indices, t, context, cond, motion=still), plain(noisy, indices, t, context, cond))
    right = SectionMotion(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.ones(2, indices.numel(), 32, 32))
    _, anchors = model(noisy, indices, t, context, cond, motion=right, return_anchors=True)
    # a membership of one everywhere moves the whole anchor by d px: the warp by that flow (away
    # from the left edge, which the moved membership no longer covers)
    flow = torch.zeros(2, 2, indices.numel(), 8, 8)
    flow[:, 0] = indices.float().view(1, -1, 1, 1)
    expected = model.pixel_view.warp(anchors.context, flow)
    torch.testing.assert_close(anchors.moved[..., 1:], expected[..., 1:], atol=1e-4, rtol=1e-4)
    assert (anchors.moved - anchors.context).abs().max() > 0.1
    assert anchors.velocity_logits.shape == (2, velocity_bins().shape[0])
    assert anchors.membership_logits.shape == (2, indices.numel(), 32, 32)


def test_the_generator_commits_each_section_to_one_drawn_motion(codec, monkeypatch):
    model = prior_model(codec)
    seen = []
    forward = model.forward

    def recording(*args, **kwargs):
        seen.append(kwargs.get("motion"))
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", recording)
    generator = FramePackGenerator(model, codec, "f1k1_x_g3_f1k1f2k2f16k4_td", steps=3)
    start = sample_clip(5, 1).frames[0]

    def run(seed: int) -> np.ndarray:
        seen.clear()
        sink = MemorySink()
        generator.generate(GenerationRequest("a red circle drifts right", start_image=start, num_sections=1, seed=seed), sink)
        return sink.frames()

    video = run(0)
    assert len(seen) == 3 and all(m is seen[0] for m in seen)  # one draw for every step
    velocity = seen[0].velocity
    np.testing.assert_array_equal(video, run(0))
    assert torch.equal(seen[0].velocity, velocity)
    other = [run(seed)[1:] for seed in (1, 2, 3)]
    assert any(not np.array_equal(v, video[1:]) for v in other)
    plain = make_model(0, latent_channels=CHANNELS)
    assert plain.draw_motion((1, CHANNELS, 3, 8, 8), torch.arange(1, 4), [], None) is None


def test_section_velocity_and_coverage_follow_the_world():
    distance = torch.tensor([[1.0, 2.0, 3.0]])
    anchor = torch.zeros(1, 3, len(MOTION_COLUMNS))
    anchor[..., :3] = torch.tensor([20.0, 30.0, 10.0])
    target = anchor.clone()
    target[..., 0] += 0.5 * distance
    target[..., 1] -= 1.5 * distance
    torch.testing.assert_close(section_velocity(target, anchor, distance), torch.tensor([[0.5, -1.5]]))
    coverage = subject_coverage(anchor, 2)
    assert coverage.shape == (1, 3, 32, 32)
    assert coverage[0, 0].sum().item() * 4 == pytest.approx(np.pi * 100, rel=0.05)
    assert coverage[0, 0, 15, 10].item() == 1.0 and coverage[0, 0, 0, 0].item() == 0.0


@pytest.fixture(scope="module")
def world_pool(codec):
    return LatentClipPool.build(codec, "heldout", 6, 40, 0, cache_dir=None, show_progress=False)


def test_training_forces_the_true_motion_and_trains_the_prior_on_it(codec, world_pool):
    model = prior_model(codec).train()
    choices = [PlanChoice("f1k1_x_g9_f1k1f2k2f16k4_td", "inverted_anti_drifting", has_start=True)]
    _, batch = random_batch(world_pool, choices, 1, 4, random.Random(0))
    cond = model.text_encoder().condition(batch.prompts, batch.start_latent)
    truth = true_section_motion(batch, world_pool.motion)
    assert truth.velocity.abs().max() > 0.1  # the clips move
    t, noise = torch.full((4,), 0.5), torch.randn(batch.target.shape, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="motion table"):
        flow_matching_loss_at(model, batch, cond, t, noise, "preconditioned")
    with_prior = flow_matching_loss_at(model, batch, cond, t, noise, "preconditioned", motion=world_pool.motion)
    without = flow_matching_loss_at(model, batch, cond, t, noise, "preconditioned", motion=world_pool.motion,
                                    prior_weight=0.0)
    assert with_prior.item() > without.item() + 1.0  # an untrained prior: cross-entropy of a wide guess
    with_prior.backward()
    assert model.motion_prior.velocity_head[-1].weight.grad.abs().sum() > 0
    # the prior's loss is lowest when it predicts the truth
    _, anchors = model(batch.target, batch.noisy_indices, t[:, None].expand(-1, 9), batch.context, cond,
                       return_anchors=True, motion=truth)
    sure = anchors._replace(velocity_logits=torch.log(soft_velocity_target(truth.velocity) + 1e-6),
                            membership_logits=torch.logit(truth.membership.clamp(1e-4, 1 - 1e-4)))
    # (the soft target's own entropy, at most log 4, against about log K for an untrained prior)
    assert motion_prior_loss(sure, truth).item() < np.log(4) + 0.05 < 4.0 < motion_prior_loss(anchors, truth).item()
