"""History guidance (as the Diffusion Forcing Transformer): history carries its own noise level, and
classifier-free guidance contrasts the prediction with history against one without it.

The conditional branch sees the history at level τ (default 0, clean); the unconditional branch sees
the same prompt with every history frame replaced by pure noise at t = 1
(`framepack.framepack_generator.fully_noised_history`). The guided velocity is
v_u + w·(v_c − v_u). The fractional variant (`uncond_level` < 1) noises the unconditional branch's
history only to that level, guiding on the history's fine detail while keeping its coarse content.
Training draws τ ~ U(0, 1) per example and erases the history (τ = 1) for a share of examples, so one
model learns both branches. The window is `td_f9k1_g9`.
"""

from __future__ import annotations

import torch

from baselines.backbone import BaselineBackbone
from baselines.history_noise import FixedHistoryLevel, noise_group
from baselines.sliding_window import DEFAULT_SECTION_FRAMES, window_schedule
from framepack.flow_matching import Guidance
from framepack.framepack_generator import FramePackGenerator, SectionInputs, fully_noised_history

NAME = "history_guidance"
TRAIN_FULL_NOISE_PROB = 0.2


def history_guidance_backbone(
    model, history_level: float | None = 0.0, full_noise_prob: float = 0.0, generator=None
) -> BaselineBackbone:
    """The backbone with history at its own level τ.

    Args:
        model: the packed DiT.
        history_level: τ in [0, 1]; None draws τ ~ U(0, 1) per example (training, needs `generator`).
        full_noise_prob: share of examples with erased history (τ = 1), for training.
        generator: draws noise and random levels in call order; None seeds noise from content.
    """
    level = FixedHistoryLevel(history_level, full_noise_prob)
    return BaselineBackbone(model, history_level=level, noise_generator=generator)


def partially_noised_history(level: float):
    """An unconditional branch whose history is noised to `level` (< 1: fractional history guidance)."""
    if not 0.0 < level <= 1.0:
        raise ValueError(f"uncond_level must be in (0, 1], got {level}")
    if level == 1.0:
        return fully_noised_history

    def branch(inputs: SectionInputs, generator: torch.Generator) -> SectionInputs:
        context = []
        for group in inputs.context:
            noise = torch.randn(group.latents.shape, generator=generator)
            context.append(noise_group(group, torch.full((group.batch_size,), level), noise))
        return SectionInputs(inputs.cond, context)

    return branch


def history_guidance_lab(
    model,
    codec,
    guidance_scale: float = 2.0,
    history_level: float = 0.0,
    uncond_level: float = 1.0,
    frames_per_section: int = DEFAULT_SECTION_FRAMES,
    steps: int = 25,
    **sampler,
) -> FramePackGenerator:
    """The history-guidance generator over a packed model and a lab codec.

    Args:
        model: the fine-tuned `PackedDiT`.
        codec: the lab codec.
        guidance_scale: w; 1 disables guidance (conditional branch only).
        history_level: τ of the conditional branch's history (0 = clean).
        uncond_level: the unconditional branch's history level (1 = fully noised; < 1 fractional).
        frames_per_section: latent frames per section (the window is as long).
        steps: sampler steps per section.
        **sampler: further `FramePackGenerator` options (solver, shift, fps).
    """
    name = f"{NAME} (w={float(guidance_scale):g}" + (f", uncond τ={uncond_level:g})" if uncond_level != 1.0 else ")")
    return FramePackGenerator(
        history_guidance_backbone(model, float(history_level)),
        codec,
        window_schedule(frames_per_section),
        order="vanilla",
        steps=steps,
        guidance=Guidance(scale=float(guidance_scale)),
        unconditional=partially_noised_history(float(uncond_level)),
        name=name,
        **sampler,
    )
