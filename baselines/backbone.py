"""The shared backbone as a baseline sees it: the same `PackedDiT`, with the baseline's input mechanism.

A baseline changes what the backbone is given, never the backbone: an attention mask (causal
attention) or a noise level on the history (noisy history, history guidance). `BaselineBackbone`
wraps the model with that change and is used unchanged by the baseline's training recipe and by its
generator (through `framepack.framepack_generator.FramePackGenerator`), so the model is sampled
exactly as it was fine-tuned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from baselines.history_noise import noise_history
from framepack.attention import ATTENTION_MODES
from framepack.framepack_generator import SectionMotionModel
from framepack.packed_group import PackedGroup

HistoryLevel = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]
"""(section time t (B,), generator) -> history time τ (B,); see `baselines.history_noise`."""


class BaselineBackbone(nn.Module):
    """A packed model with a baseline's input mechanism; called like the model (a `VelocityModel`).

    Args:
        model: the packed DiT (anything with `PackedDiT.forward`'s signature).
        attention: attention mode passed to every call ("full", "causal", "block_causal"); None
            leaves the model's default (full).
        history_level: history noise level (e.g. `ScaledHistoryLevel(0.1)`); None keeps history clean.
        noise_generator: draws history noise and random levels in call order (training). None (the
            default, for sampling) seeds history noise from the history's content, so it is the same
            at every denoising step of a section and for any call order.
    """

    def __init__(
        self,
        model: nn.Module,
        attention: str | None = None,
        history_level: HistoryLevel | None = None,
        noise_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if attention is not None and attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES} or None, got {attention!r}")
        self.model = model
        self.attention = attention
        self.history_level = history_level
        self.noise_generator = noise_generator

    def text_encoder(self) -> Any:
        """The wrapped model's text encoder (the sampler's default conditioner uses it)."""
        return self.model.text_encoder()

    def draw_motion(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped model's `SectionMotionModel` hook (None when it has no motion to draw)."""
        return self.model.draw_motion(*args, **kwargs) if isinstance(self.model, SectionMotionModel) else None

    def history_context(self, context: Sequence[PackedGroup], timesteps: torch.Tensor) -> list[PackedGroup]:
        """The context the model receives for noisy-section times `timesteps` (B, F)."""
        if self.history_level is None or not context:
            return list(context)
        section_time = timesteps.reshape(timesteps.shape[0], -1).amax(dim=1)
        level = self.history_level(section_time, self.noise_generator)
        if self.noise_generator is None and not bool(level.any()):
            return list(context)  # τ = 0: the clean history itself
        return noise_history(context, level, self.noise_generator)

    def forward(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: Any,
        **options: Any,
    ) -> torch.Tensor:
        """Velocity of the noisy section; `options` (attention, kv_cache, ...) go to the model."""
        timesteps = torch.as_tensor(timesteps, dtype=noisy.dtype, device=noisy.device)
        if timesteps.ndim == 1:
            timesteps = timesteps[:, None].expand(noisy.shape[0], noisy.shape[2])
        if self.attention is not None:
            options.setdefault("attention", self.attention)
        return self.model(noisy, noisy_indices, timesteps, self.history_context(context, timesteps), cond, **options)
