"""Noisy history (diffusion forcing): history frames are given a diffusion time of their own, σ·t, a
fraction σ of the time t of the section being denoised, and their latents are noised to match.

Training draws σ_train per example (uniform in [0, 1], "σ_train random") or fixes it (0.1); sampling
fixes σ_test (0 = clean history). Noise on the history makes the model lean less on history errors
(less drift) at the cost of detail it could have copied. The window is `td_f9k1_g9`.
"""

from __future__ import annotations

from baselines.backbone import BaselineBackbone
from baselines.history_noise import ScaledHistoryLevel
from baselines.sliding_window import DEFAULT_SECTION_FRAMES, window_schedule
from framepack.framepack_generator import FramePackGenerator

NAME = "noisy_history"


def noisy_history_backbone(model, sigma: float | None, generator=None) -> BaselineBackbone:
    """The backbone with history at time σ·t.

    Args:
        model: the packed DiT.
        sigma: σ in [0, 1]; None draws σ ~ U(0, 1) per example (training only: needs `generator`).
        generator: draws the history noise (and random σ) in call order; None seeds the noise from
            the history's content (sampling).
    """
    return BaselineBackbone(model, history_level=ScaledHistoryLevel(sigma), noise_generator=generator)


def noisy_history_lab(
    model,
    codec,
    sigma_test: float = 0.0,
    frames_per_section: int = DEFAULT_SECTION_FRAMES,
    steps: int = 25,
    **sampler,
) -> FramePackGenerator:
    """The noisy-history generator over a packed model and a lab codec.

    Args:
        model: the fine-tuned `PackedDiT`.
        codec: the lab codec.
        sigma_test: σ_test in [0, 1], the history's share of the section's diffusion time.
        frames_per_section: latent frames per section (the window is as long).
        steps: sampler steps per section.
        **sampler: further `FramePackGenerator` options (solver, shift, guidance, fps).
    """
    if sigma_test is None:
        raise ValueError("sigma_test must be a number in [0, 1] at sampling time, got None")
    return FramePackGenerator(
        noisy_history_backbone(model, float(sigma_test)),
        codec,
        window_schedule(frames_per_section),
        order="vanilla",
        steps=steps,
        name=f"{NAME} (σ_test={float(sigma_test):g})",
        **sampler,
    )
