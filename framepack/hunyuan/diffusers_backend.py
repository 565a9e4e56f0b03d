"""Drive diffusers' `HunyuanVideoFramepackTransformer3DModel` with the suite's packed context.

The released FramePack transformer has exactly three history patch embeddings — k1 (1,2,2),
k2 (2,4,4) and k4 (4,8,8) — and one timestep per call. `DiffusersFramePackModel` takes the
suite's `PackedGroup` context (any number of groups at those kernels, each with its true
frame indices for RoPE) and maps it onto the transformer's keyword inputs:

    k1 groups -> latents_clean / indices_latents_clean        (the start frame is one of them)
    k2 groups -> latents_history_2x / indices_latents_history_2x
    k4 groups -> latents_history_4x / indices_latents_history_4x
    noisy     -> hidden_states / indices_latents

Groups of one kernel are concatenated in the order given, which is the token order the
transformer sees. The forward signature mirrors the lab `PackedDiT`, so the same sampler loop
runs either model; it returns the velocity (the transformer predicts it directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Kernel (t, h, w) -> the transformer's input names for that history level.
_KERNEL_INPUTS = {
    (1, 2, 2): ("latents_clean", "indices_latents_clean"),
    (2, 4, 4): ("latents_history_2x", "indices_latents_history_2x"),
    (4, 8, 8): ("latents_history_4x", "indices_latents_history_4x"),
}


@dataclass
class HunyuanConditioning:
    """Everything the FramePack transformer is conditioned on besides the latents.

    Attributes:
        prompt_embeds: (B, L, D) Llama hidden states (HunyuanVideo's text encoder).
        prompt_attention_mask: (B, L) 1 for real tokens.
        pooled_prompt_embeds: (B, D2) CLIP pooled output.
        image_embeds: (B, N, D3) SigLIP last hidden state of the start image (or the mean of
            the start and end image embeddings, as the released first-last-frame mode does).
    """

    prompt_embeds: torch.Tensor
    prompt_attention_mask: torch.Tensor
    pooled_prompt_embeds: torch.Tensor
    image_embeds: torch.Tensor


class UnsupportedContextError(ValueError):
    """The packed context cannot be expressed with the released transformer's inputs."""


def kernel_key(kernel) -> tuple[int, int, int]:
    """(t, h, w) of a `framepack.kernels.Kernel` (or any object with t/h/w, or a 3-tuple)."""
    if isinstance(kernel, tuple):
        return tuple(int(v) for v in kernel)
    return (int(kernel.t), int(kernel.h), int(kernel.w))


def pack_transformer_inputs(context: Sequence, dtype: torch.dtype, device: torch.device | str) -> dict:
    """Map packed context groups onto the transformer's history keyword arguments.

    Args:
        context: `PackedGroup`s (latents (B,C,F,H,W), frame_indices (F,), kernel, timesteps).
            Every group must be clean (timesteps None or all zero): the released model has no
            per-frame timesteps for history. Kernels must be k1, k2 or k4; each must be present
            at least once (the transformer embeds all three levels on every call).
        dtype: the transformer's dtype; latents are cast to it.
        device: where the transformer runs.

    Returns:
        Keyword arguments `latents_clean`, `indices_latents_clean`, `latents_history_2x`, ...
    """
    by_kernel: dict[tuple[int, int, int], list] = {key: [] for key in _KERNEL_INPUTS}
    for position, group in enumerate(context):
        key = kernel_key(group.kernel)
        if key not in by_kernel:
            raise UnsupportedContextError(
                f"context group {position} has kernel {key}; the released FramePack transformer only embeds "
                f"{sorted(_KERNEL_INPUTS)} (k1, k2, k4)"
            )
        if group.timesteps is not None and bool((group.timesteps != 0).any()):
            raise UnsupportedContextError(
                f"context group {position} is noisy (timesteps {group.timesteps.flatten()[:4].tolist()}...); "
                "the released FramePack transformer only takes clean history"
            )
        by_kernel[key].append(group)
    inputs: dict[str, torch.Tensor] = {}
    for key, (latents_name, indices_name) in _KERNEL_INPUTS.items():
        groups = by_kernel[key]
        if not groups:
            raise UnsupportedContextError(
                f"no context group with kernel {key}; the FramePack transformer needs k1, k2 and k4 history on "
                "every call (fill absent history with zero latents, as the released samplers do)"
            )
        inputs[latents_name] = torch.cat([g.latents for g in groups], dim=2).to(device=device, dtype=dtype)
        inputs[indices_name] = torch.cat([torch.as_tensor(g.frame_indices).long() for g in groups]).to(device)
    return inputs


class DiffusersFramePackModel(torch.nn.Module):
    """The diffusers FramePack transformer behind the suite's packed-model call.

    Args:
        transformer: a `HunyuanVideoFramepackTransformer3DModel` (has_clean_x_embedder=True,
            has_image_proj=True, as the released FramePackI2V_HY).
        distilled_guidance: the distilled-guidance strength (the released model uses 10);
            handed to the transformer as strength·1000, as diffusers' pipeline does. None for a
            transformer without `guidance_embeds`.
    """

    def __init__(self, transformer: torch.nn.Module, distilled_guidance: float | None = 10.0) -> None:
        super().__init__()
        config = transformer.config
        if not getattr(config, "has_clean_x_embedder", False):
            raise ValueError("the transformer has no clean-latent (history) embedder; expected a FramePack transformer")
        if distilled_guidance is None and getattr(config, "guidance_embeds", False):
            raise ValueError("the transformer embeds distilled guidance; give distilled_guidance (e.g. 10.0)")
        self.transformer = transformer
        self.distilled_guidance = distilled_guidance
        self.current_timestep = 1000.0  # the timestep of the latest call (what FasterCache schedules by)

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.dtype

    def forward(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence,
        cond: HunyuanConditioning,
        attention: str = "full",
        kv_cache=None,
    ) -> torch.Tensor:
        """Velocity for `noisy` (B, C, F, H, W) at flow time `timesteps` (B, F) in [0, 1].

        All frames of one sample must share one time (the released model has one timestep per
        call); `attention` must be "full" and `kv_cache` None. Returns float32 (B, C, F, H, W).
        """
        if attention != "full" or kv_cache is not None:
            raise UnsupportedContextError(
                f"the FramePack transformer supports full attention without a KV cache only, got "
                f"attention={attention!r}, kv_cache={'given' if kv_cache is not None else None}"
            )
        timesteps = torch.as_tensor(timesteps, dtype=torch.float32)
        if timesteps.ndim == 2:
            if not bool((timesteps == timesteps[:, :1]).all()):
                raise UnsupportedContextError("per-frame timesteps differ within a sample; the model takes one per call")
            timesteps = timesteps[:, 0]
        batch = noisy.shape[0]
        timesteps = timesteps.expand(batch) if timesteps.ndim == 0 else timesteps
        device = noisy.device
        dtype = self.transformer.dtype
        history = pack_transformer_inputs(context, dtype=dtype, device=device)
        guidance = None
        if self.distilled_guidance is not None:
            guidance = torch.tensor([self.distilled_guidance] * batch, dtype=dtype, device=device) * 1000.0
        self.current_timestep = float(timesteps.flatten()[0]) * 1000
        # A cache hook (framepack.hunyuan.cache) keeps its state per named context.
        with self.transformer.cache_context("cond"):
            velocity = self._call_transformer(noisy, noisy_indices, timesteps, cond, history, guidance)
        return velocity.float()

    def _call_transformer(self, noisy, noisy_indices, timesteps, cond, history, guidance) -> torch.Tensor:
        device, dtype = noisy.device, self.transformer.dtype
        return self.transformer(
            hidden_states=noisy.to(dtype),
            # The transformer's timestep is diffusers' scheduler time, t·1000 (float32, as the scheduler makes it).
            timestep=(timesteps * 1000).to(device),
            encoder_hidden_states=cond.prompt_embeds.to(device=device, dtype=dtype),
            encoder_attention_mask=cond.prompt_attention_mask.to(device=device, dtype=dtype),
            pooled_projections=cond.pooled_prompt_embeds.to(device=device, dtype=dtype),
            image_embeds=cond.image_embeds.to(device=device, dtype=dtype),
            indices_latents=torch.as_tensor(noisy_indices).long().to(device),
            guidance=guidance,
            return_dict=False,
            **history,
        )[0]
