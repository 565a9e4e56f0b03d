"""The anchor of an "anchored" prediction: for every noisy frame, its nearest real context frame.

A video model's cheapest good guess for a frame is the nearest frame it already has (the
copy-last-frame baseline). An anchored model predicts the difference from that guess, so it starts
at copy-last and spends its capacity on motion instead of on re-drawing the subject token by token
(see `PackedDiT` and `preconditioning`).

Candidates are the k1 context frames (full resolution; coarser kernels only exist as packed
tokens) that are real: frames the section plan zero-filled (before the video starts, or not yet
generated) and fully noised frames (history guidance's unconditional branch) are skipped. Ties go
to the earlier frame. Without any candidate the start image is used, and without one of those the
anchor is zero (text-to-video), which reduces to the plain preconditioned prediction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from framepack.kernels import K1
from framepack.packed_group import PackedGroup


def nearest_context(
    noisy_shape: torch.Size | tuple[int, ...],
    noisy_indices: torch.Tensor,
    context: Sequence[PackedGroup],
    image_latent: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, F, H, W) for each batch item and noisy frame, the nearest real k1 context frame, and
    (B, F) the time index it was taken from (the start image counts as frame 0, as in the section
    plans; a zero anchor also reports 0).

    Args:
        noisy_shape: (B, C, F, H, W) of the noisy section.
        noisy_indices: (F,) time index of each noisy frame.
        context: the packed context groups (only k1 groups without a tail mode are candidates).
        image_latent: (B, C, H, W) start frame, the fallback when an item has no real candidate.
    """
    batch, channels, frames, height, width = noisy_shape
    pieces = [g for g in context if g.kernel == K1 and g.tail_mode is None and g.latents.shape[-2:] == (height, width)]
    fallback = (image_latent[:, :, None].expand(batch, channels, frames, height, width)
                if image_latent is not None else None)
    no_index = torch.zeros(batch, frames)
    if not pieces:
        return (fallback if fallback is not None else torch.zeros(noisy_shape)), no_index
    latents = torch.cat([g.latents for g in pieces], dim=2)  # (B, C, N, H, W)
    indices = torch.cat([g.frame_indices for g in pieces]).to(noisy_indices.device)
    times = torch.cat([g.frame_timesteps() for g in pieces], dim=1)  # (B, N)
    real = (latents.abs().amax(dim=(1, 3, 4)) > 0) & (times < 1)  # (B, N)
    # distance (F, N); the index breaks ties towards the earlier frame
    distance = (noisy_indices[:, None] - indices[None, :]).abs().to(torch.float64) + indices[None, :] * 1e-6
    distance = distance[None].expand(batch, -1, -1).masked_fill(~real[:, None, :], float("inf"))  # (B, F, N)
    nearest = distance.argmin(dim=2)  # (B, F)
    gather = nearest[:, None, :, None, None].expand(batch, channels, frames, height, width)
    anchor = latents.gather(2, gather)
    anchor_index = indices[nearest].to(torch.float32)  # (B, F)
    has_real = real.any(dim=1)
    if not bool(has_real.all()):
        missing = fallback if fallback is not None else torch.zeros_like(anchor)
        anchor = torch.where(has_real[:, None, None, None, None], anchor, missing.to(anchor))
        anchor_index = torch.where(has_real[:, None], anchor_index, no_index)
    return anchor, anchor_index
