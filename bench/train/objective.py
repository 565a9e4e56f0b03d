"""The flow-matching training objective and the copy-last-frame comparison every recipe reports.

Convention (as diffusers): x_t = (1 − t)·x0 + t·noise, t = 1 pure noise, velocity v = noise − x0.
The model always returns a velocity; `loss_target` chooses what the loss compares:
"velocity" (v̂ against v), "x0" (x̂0 = x_t − t·v̂ against x0, i.e. the velocity loss weighted by t²)
or "preconditioned" (the anchored `PackedDiT`'s own output F against its unit-variance target (t·x0 − (1 − t)·noise)/n, n² = (1 − t)² + t² — EDM's weighting, so the
low-noise times that shape fine detail weigh as much as the high-noise ones).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bench.train.examples import TrainingBatch
from bench.train.true_motion import section_velocity, subject_coverage
from framepack.flow_matching import sample, time_grid
from framepack.lab.motion_prior import MEMBERSHIP_CELL_PX, SectionMotion, soft_velocity_target
from framepack.lab.text_encoder import LabConditioning, LabTextEncoder

LOSS_TARGETS = ("velocity", "x0", "preconditioned")


def sample_times(batch_size: int, generator: torch.Generator, shift: float = 1.0) -> torch.Tensor:
    """Training times t ∈ (0, 1): logit-normal (as SD3), then the static shift (> 1: noisier)."""
    t = torch.sigmoid(torch.randn(batch_size, generator=generator))
    return shift * t / (1 + (shift - 1) * t)


def conditioning(
    encoder: LabTextEncoder,
    batch: TrainingBatch,
    text_dropout: float = 0.0,
    rng: random.Random | None = None,
    use_image: bool = True,
) -> LabConditioning:
    """Text (with prompts dropped to "" at rate `text_dropout`, for guidance) and the start frame."""
    prompts = [("" if rng is not None and rng.random() < text_dropout else p) for p in batch.prompts]
    image = batch.start_latent if use_image else None
    return encoder.condition(prompts, image)


def model_velocity(model, x_t: torch.Tensor, t: torch.Tensor, batch: TrainingBatch, cond: LabConditioning,
                   return_anchors: bool = False, motion: SectionMotion | None = None):
    """The model's velocity for a noisy section at per-example times t (B,) (and, with
    `return_anchors`, its `framepack.lab.model.Anchors`; `motion` gives a motion-prior model its
    section motion)."""
    timesteps = t.view(-1, 1).expand(-1, x_t.shape[2]).contiguous()
    options = {} if motion is None else {"motion": motion}
    if return_anchors:
        return model(x_t, batch.noisy_indices, timesteps, batch.context, cond, return_anchors=True, **options)
    return model(x_t, batch.noisy_indices, timesteps, batch.context, cond, **options)


def uses_motion_prior(model) -> bool:
    """Whether `model` (or the model a DDP or baseline wrapper holds) has a motion prior."""
    model = getattr(model, "module", model)  # DDP
    config = getattr(model, "config", None) or getattr(getattr(model, "model", None), "config", None)  # baselines
    return bool(getattr(config, "motion_prior", False))


def true_section_motion(batch: TrainingBatch, motion: torch.Tensor) -> SectionMotion | None:
    """The world's section motion for a motion-prior model: the subject's best constant velocity and
    its membership in each frame's copy-last frame (None without real context)."""
    if batch.last_context is None or batch.nearest_frames is None:
        return None
    ids = batch.clip_ids[:, None]
    target, anchor = motion[ids, batch.target_frames], motion[ids, batch.nearest_frames]
    distance = batch.target_frames - batch.nearest_frames
    return SectionMotion(section_velocity(target, anchor, distance), subject_coverage(anchor, MEMBERSHIP_CELL_PX))


def motion_prior_loss(anchors, truth: SectionMotion | None) -> torch.Tensor:
    """Cross-entropy of the prior's velocity distribution against the true velocity (spread over
    its nearest bins), plus the binary cross-entropy of its membership against the true coverage."""
    if truth is None:
        return anchors.moved.new_zeros(())
    velocity = -(soft_velocity_target(truth.velocity) * torch.log_softmax(anchors.velocity_logits, dim=1)).sum(1).mean()
    membership = F.binary_cross_entropy_with_logits(anchors.membership_logits, truth.membership)
    return velocity + membership


def flow_matching_loss(
    model,
    batch: TrainingBatch,
    cond: LabConditioning,
    generator: torch.Generator,
    loss_target: str = "velocity",
    time_shift: float = 1.0,
    motion: torch.Tensor | None = None,
    prior_weight: float = 1.0,
) -> torch.Tensor:
    """Mean squared error of one noised batch (see the module docstring for `loss_target`)."""
    t = sample_times(batch.target.shape[0], generator, time_shift)
    noise = torch.randn(batch.target.shape, generator=generator)
    return flow_matching_loss_at(model, batch, cond, t, noise, loss_target, motion=motion, prior_weight=prior_weight)


def flow_matching_loss_at(
    model,
    batch: TrainingBatch,
    cond: LabConditioning,
    t: torch.Tensor,
    noise: torch.Tensor,
    loss_target: str = "velocity",
    motion: torch.Tensor | None = None,
    prior_weight: float = 1.0,
) -> torch.Tensor:
    """`flow_matching_loss` at given times t (B,) and noise (shaped like the target).

    A model with a motion prior trains with its anchors moved by the world's section motion
    (`true_section_motion`; `motion` is the pool's table, `bench.train.data.LatentClipPool.motion`),
    and `prior_weight` times `motion_prior_loss` trains the prior to predict it.
    """
    if loss_target not in LOSS_TARGETS:
        raise ValueError(f"unknown loss_target {loss_target!r}; expected one of {LOSS_TARGETS}")
    x0 = batch.target
    tt = t.view(-1, 1, 1, 1, 1)
    x_t = (1 - tt) * x0 + tt * noise
    auxiliary = 0.0
    if uses_motion_prior(model):
        if motion is None or prior_weight < 0:
            raise ValueError(f"a motion-prior model trains on the pool's motion table with prior_weight >= 0, "
                             f"got motion={'a table' if motion is not None else None}, prior_weight={prior_weight}")
        truth = true_section_motion(batch, motion)
        v_hat, anchors = model_velocity(model, x_t, t, batch, cond, return_anchors=True, motion=truth)
        auxiliary = prior_weight * motion_prior_loss(anchors, truth)
    else:
        v_hat = model_velocity(model, x_t, t, batch, cond)
    if loss_target == "velocity":
        errors = (v_hat - (noise - x0)) ** 2
    elif loss_target == "preconditioned":
        # F − F* = n·(v* − v̂) (invert v = x_t(2t − 1)/n² − F/n), so the F loss is the velocity loss
        # weighted by n²; computed from v̂ it works through any backbone adapter.
        errors = ((1 - tt) ** 2 + tt**2) * (v_hat - (noise - x0)) ** 2
    else:
        errors = (x_t - tt * v_hat - x0) ** 2
    return errors.mean() + auxiliary


@torch.no_grad()
def sample_section(
    model,
    batch: TrainingBatch,
    cond: LabConditioning,
    noise: torch.Tensor,
    steps: int = 16,
    shift: float = 3.0,
) -> torch.Tensor:
    """Euler-sample the batch's section from `noise` (B, C, g, h, w); returns clean latents."""

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model_velocity(model, x, t.expand(x.shape[0]), batch, cond)

    return sample(velocity, noise, time_grid(steps, shift))


@dataclass
class CopyLastComparison:
    """Held-out errors of the model against the copy-last-frame baseline (lower is better).

    latent_* are MSEs of normalised latents; pixel_* MSEs of decoded frames in [0, 1].
    one_step is the model's x0 estimate from pure noise (its conditional mean); sampled is a full
    Euler sample; copy_last replaces every generated frame by the nearest real context frame.
    """

    latent_one_step: float
    latent_sampled: float
    latent_copy_last: float
    pixel_sampled: float
    pixel_copy_last: float

    def as_dict(self, prefix: str = "eval_") -> dict[str, float]:
        return {prefix + name: value for name, value in self.__dict__.items()}


@torch.no_grad()
def compare_to_copy_last(
    model,
    batches: list[TrainingBatch],
    encoder: LabTextEncoder,
    codec,
    seed: int = 0,
    steps: int = 16,
    shift: float = 3.0,
) -> CopyLastComparison:
    """Evaluate `model` on fixed held-out batches (each must have a copy-last baseline)."""
    if not batches:
        raise ValueError("compare_to_copy_last needs at least one held-out batch (eval_batches >= 1)")
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(CopyLastComparison.__dataclass_fields__, 0.0)
    generator = torch.Generator().manual_seed(seed)
    for batch in batches:
        if batch.last_context is None:
            raise ValueError("compare_to_copy_last needs batches whose context holds a real frame")
        cond = conditioning(encoder, batch)
        noise = torch.randn(batch.target.shape, generator=generator)
        ones = torch.ones(noise.shape[0])
        one_step = noise - model_velocity(model, noise, ones, batch, cond)
        sampled = sample_section(model, batch, cond, noise, steps, shift)
        sums["latent_one_step"] += F.mse_loss(one_step, batch.target).item()
        sums["latent_sampled"] += F.mse_loss(sampled, batch.target).item()
        sums["latent_copy_last"] += F.mse_loss(batch.last_context, batch.target).item()
        real = codec.decode(batch.target)
        sums["pixel_sampled"] += F.mse_loss((codec.decode(sampled) + 1) / 2, (real + 1) / 2).item()
        sums["pixel_copy_last"] += F.mse_loss((codec.decode(batch.last_context) + 1) / 2, (real + 1) / 2).item()
    model.train(was_training)
    return CopyLastComparison(**{name: value / len(batches) for name, value in sums.items()})
