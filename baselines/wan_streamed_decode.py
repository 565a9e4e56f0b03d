"""Decode Wan-VAE latents (SkyReels-V2) one latent frame at a time, handing pixels on as they come.

The Wan VAE is causal: `AutoencoderKLWan.decode` already runs its decoder latent frame by latent
frame, carrying a feature cache, but concatenates every decoded chunk before returning, so a
30 s 540p video (~ 720 frames, 4.5 GB as float32) sits whole in memory. `decode_streamed` runs the
same per-frame loop and emits each chunk (1 pixel frame, then 4 per latent frame) instead; the
frames equal `vae.decode`'s (tests/test_skyreels_df.py compares against the pipeline's own decode).
With VAE tiling on, or a patchified VAE (Wan 2.2), it falls back to one whole `decode` call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def denormalize(vae: torch.nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Pipeline latents (normalised by the VAE's latents_mean / latents_std) -> the VAE's own scale."""
    config = vae.config
    shape = (1, config.z_dim, 1, 1, 1)
    mean = torch.tensor(config.latents_mean).view(shape).to(latents.device, vae.dtype)
    std = torch.tensor(config.latents_std).view(shape).to(latents.device, vae.dtype)
    return latents.to(vae.dtype) * std + mean


@torch.no_grad()
def decode_streamed(vae: torch.nn.Module, latents: torch.Tensor,
                    emit: Callable[[int, torch.Tensor], None]) -> int:
    """Decode normalised `latents` (B, C, n, h, w) and call `emit(first_frame, pixels)` with pixels
    (B, 3, T, 8h, 8w) in [-1, 1] in time order; returns the number of pixel frames (4(n − 1) + 1)."""
    z = denormalize(vae, latents)
    if getattr(vae, "use_tiling", False) or vae.config.get("patch_size") is not None:
        video = vae.decode(z, return_dict=False)[0]
        emit(0, video)
        return video.shape[2]
    hook = getattr(vae, "_hf_hook", None)  # model offloading: move the VAE to its execution device first
    if hook is not None:
        hook.pre_forward(vae)
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    position = 0
    for index in range(x.shape[2]):
        vae._conv_idx = [0]
        first = {"first_chunk": True} if index == 0 else {}  # later chunks use the decoder's default
        chunk = vae.decoder(x[:, :, index : index + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, **first)
        chunk = chunk.clamp(-1.0, 1.0)
        emit(position, chunk)
        position += chunk.shape[2]
    vae.clear_cache()
    return position
