"""Noise levels for history frames (diffusion forcing, history guidance) and the noising itself.

History frames given to the model as context are normally clean (t = 0). Two baselines give them a
diffusion time of their own and replace their latents by the matching point of the flow path,
x_h = (1 − τ)·x + τ·ε (the flow-matching convention, τ = 1 is pure noise):

- noisy history (diffusion forcing): τ = σ·t, a fraction σ of the section's own time t;
  `ScaledHistoryLevel(σ)` (σ = None draws σ ~ U(0, 1) per example, the "σ_train random" recipe);
- history guidance: τ is the history's own level, independent of t; `FixedHistoryLevel(τ)`
  (τ = None draws τ ~ U(0, 1) per example, and `full_noise_prob` sets τ = 1 — history erased, the
  unconditional branch of history guidance — for that share of training examples).

A level is a callable (t (B,), generator) -> τ (B,); the generator is used only by random levels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from framepack.packed_group import PackedGroup


def _check_fraction(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1] (or None for random), got {value!r}")


def _uniform(size: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    if generator is None:
        raise ValueError("a random history level needs a torch.Generator (training draws one per example)")
    return torch.rand(size, generator=generator).to(like)


@dataclass(frozen=True)
class ScaledHistoryLevel:
    """τ = σ·t (diffusion forcing's noisy history).

    Args:
        sigma: σ in [0, 1]; None draws σ ~ U(0, 1) per example (σ_train random).
    """

    sigma: float | None

    def __post_init__(self) -> None:
        _check_fraction("sigma", self.sigma)

    def __call__(self, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        sigma = _uniform(t.shape[0], generator, t) if self.sigma is None else float(self.sigma)
        return (sigma * t).clamp(0.0, 1.0)


@dataclass(frozen=True)
class FixedHistoryLevel:
    """τ independent of the section's time (history guidance's own history level).

    Args:
        level: τ in [0, 1]; None draws τ ~ U(0, 1) per example.
        full_noise_prob: share of examples whose history is erased (τ = 1), so the model learns the
            history-free prediction the unconditional branch asks for.
    """

    level: float | None
    full_noise_prob: float = 0.0

    def __post_init__(self) -> None:
        _check_fraction("level", self.level)
        _check_fraction("full_noise_prob", self.full_noise_prob)

    def __call__(self, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.level is None:
            level = _uniform(t.shape[0], generator, t)
        else:
            level = torch.full_like(t, float(self.level))
        if self.full_noise_prob > 0:
            erased = _uniform(t.shape[0], generator, t) < self.full_noise_prob
            level = torch.where(erased, torch.ones_like(level), level)
        return level


def content_seed(group: PackedGroup, salt: int = 0) -> int:
    """A seed that is a pure function of a group's latents and positions (and `salt`).

    Sampling uses it so history noise is reproducible, equal across the denoising steps of a section
    (one consistent point per level on the flow path) and independent of call order.
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(group.latents.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    digest.update(group.frame_indices.detach().cpu().numpy().tobytes())
    digest.update(int(salt).to_bytes(8, "little", signed=True))
    return int.from_bytes(digest.digest(), "little") >> 1


def noise_group(group: PackedGroup, level: torch.Tensor, noise: torch.Tensor) -> PackedGroup:
    """The group moved to diffusion time `level` (B,): latents (1 − τ)·x + τ·ε, timesteps τ per frame.

    Args:
        group: clean context (its `timesteps` must be None).
        level: (B,) history time τ per example, in [0, 1].
        noise: ε, shaped like `group.latents`.
    """
    if group.timesteps is not None:
        raise ValueError("noise_group expects clean context (timesteps None); this group already has timesteps")
    if noise.shape != group.latents.shape:
        raise ValueError(f"noise must be shaped like the latents {tuple(group.latents.shape)}, got {tuple(noise.shape)}")
    level = level.to(group.latents.dtype).to(group.latents.device)
    tau = level.view(-1, 1, 1, 1, 1)
    latents = (1 - tau) * group.latents + tau * noise.to(group.latents)
    timesteps = level.view(-1, 1).expand(group.batch_size, group.num_frames).contiguous()
    return PackedGroup(latents, group.frame_indices, group.kernel, timesteps, group.tail_mode)


def noise_history(
    context: Sequence[PackedGroup],
    level: torch.Tensor,
    generator: torch.Generator | None = None,
    salt: int = 0,
) -> list[PackedGroup]:
    """Every clean group of `context` moved to history time `level` (B,); groups that already carry
    timesteps (e.g. history guidance's fully-noised branch) pass through unchanged.

    Args:
        context: the packed context of one model call.
        level: (B,) history time τ.
        generator: draws ε in order (training); None seeds ε from each group's content
            (`content_seed`), which sampling uses.
        salt: mixed into content seeds (e.g. the request's seed).
    """
    noised = []
    for group in context:
        if group.timesteps is not None:
            noised.append(group)
            continue
        source = generator if generator is not None else torch.Generator().manual_seed(content_seed(group, salt))
        noise = torch.randn(group.latents.shape, generator=source)
        noised.append(noise_group(group, level, noise))
    return noised
