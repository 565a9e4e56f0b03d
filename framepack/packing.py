"""Frame context packing: latents → tokens, one patch embedding per kernel.

Each kernel has its own Conv3d patch embedding with kernel = stride. Latents that do not divide by
the kernel are replicate-padded. Coarser embeddings start as copies of the k1 one, repeated over
the extra (t, h, w) and divided by the repeat count, so at initialisation a k2 token equals
"average-pool by (2, 2, 2), then k1" (as in the released FramePack model).

Context is ordered coarsest first — tails, then groups by decreasing compression, then clean k1 —
and the noisy section comes last: [tail | k4 | k2 | k1 clean | noisy]. Only noisy tokens are
projected back to latents.

Every token carries: its RoPE angles (the mean of the k1 phases it covers), the latest true frame
index it covers (for causal masks) and a conditioning slot (a group of tokens sharing one diffusion
time, e.g. one noisy frame, or one k4 time step averaging its frames' times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from framepack.kernels import K1, Kernel
from framepack.packed_group import PackedGroup
from framepack.rope import RopeSpec, k1_grid_hw, k1_grid_positions, kernel_angles, pool_grid, position_angles


def pad_to_kernel(latents: torch.Tensor, kernel: Kernel) -> torch.Tensor:
    """Replicate-pad (B, C, F, H, W) at the end of each axis to whole multiples of the kernel."""
    pads = [(-size) % k for size, k in zip(latents.shape[2:], kernel.size, strict=True)]
    if not any(pads):
        return latents
    return F.pad(latents, (0, pads[2], 0, pads[1], 0, pads[0]), mode="replicate")


class PatchEmbedding(nn.Module):
    """Conv3d with kernel = stride = `kernel`; (B, C, F, H, W) → tokens (B, N, dim), (t, y, x) order."""

    def __init__(self, channels: int, dim: int, kernel: Kernel) -> None:
        super().__init__()
        self.kernel = kernel
        self.proj = nn.Conv3d(channels, dim, kernel_size=kernel.size, stride=kernel.size)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        # Same result as self.proj(padded).flatten(2).transpose(1, 2); cutting patches and doing
        # one matmul is several times faster than conv3d on the CPU when kernel = stride.
        padded = pad_to_kernel(latents, self.kernel)
        batch, channels, frames, height, width = padded.shape
        kt, kh, kw = self.kernel.size
        patches = padded.reshape(batch, channels, frames // kt, kt, height // kh, kh, width // kw, kw)
        patches = patches.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(batch, -1, channels * kt * kh * kw)
        return F.linear(patches, self.proj.weight.reshape(self.proj.out_channels, -1), self.proj.bias)

    @torch.no_grad()
    def init_from_k1(self, k1: PatchEmbedding) -> None:
        """Repeat k1's weights over this kernel's extra (t, h, w) and divide by the repeat count.

        Afterwards this embedding equals average-pooling by `kernel.ratio` followed by k1.
        """
        if k1.kernel != K1:
            raise ValueError(f"init_from_k1 needs a k1 embedding, got {k1.kernel}")
        rt, rh, rw = self.kernel.ratio
        weight = k1.proj.weight.repeat_interleave(rt, 2).repeat_interleave(rh, 3).repeat_interleave(rw, 4)
        self.proj.weight.copy_(weight / self.kernel.compression)
        self.proj.bias.copy_(k1.proj.bias)


@dataclass
class TokenBlock:
    """Tokens plus what the model needs to place and condition them.

    Attributes:
        tokens: (B, N, dim).
        angles: (N, head_dim/2) RoPE angles.
        times: (N,) float, the latest true frame index each token covers.
        slots: (N,) long, each token's conditioning slot (index into slot_timesteps).
        slot_timesteps: (B, S) diffusion time of each slot.
    """

    tokens: torch.Tensor
    angles: torch.Tensor
    times: torch.Tensor
    slots: torch.Tensor
    slot_timesteps: torch.Tensor

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.shape[1])


def concat_blocks(blocks: Sequence[TokenBlock]) -> TokenBlock:
    """Join blocks in order, renumbering their slots."""
    if not blocks:
        raise ValueError("concat_blocks needs at least one block")
    slots, offset = [], 0
    for block in blocks:
        slots.append(block.slots + offset)
        offset += block.slot_timesteps.shape[1]
    return TokenBlock(
        tokens=torch.cat([b.tokens for b in blocks], dim=1),
        angles=torch.cat([b.angles for b in blocks], dim=0),
        times=torch.cat([b.times for b in blocks], dim=0),
        slots=torch.cat(slots, dim=0),
        slot_timesteps=torch.cat([b.slot_timesteps for b in blocks], dim=1),
    )


def context_order(groups: Sequence[PackedGroup]) -> list[PackedGroup]:
    """Coarsest first: tails, then decreasing compression; ties keep the caller's order."""
    return sorted(groups, key=lambda g: (g.tail_mode is None, -g.kernel.compression))


def embed_grid(
    latents: torch.Tensor,
    frame_indices: torch.Tensor,
    frame_timesteps: torch.Tensor,
    embedding: PatchEmbedding,
    spec: RopeSpec,
) -> TokenBlock:
    """Pack frames with one kernel: tokens, pooled RoPE angles, latest-frame times, one slot per
    token time step (its frames' mean diffusion time)."""
    kernel = embedding.kernel
    latent_hw = (int(latents.shape[3]), int(latents.shape[4]))
    tokens = embedding(latents)
    angles = kernel_angles(frame_indices.cpu(), latent_hw, kernel, spec).to(tokens.device)
    pooled_t = -(-latents.shape[2] // kernel.t)
    per_step = tokens.shape[1] // pooled_t
    index_grid = frame_indices.to(torch.float64).view(-1, 1, 1, 1)
    latest = pool_grid(index_grid, (kernel.t, 1, 1), reduce="max").view(-1).float()
    steps = pool_grid(frame_timesteps.t().reshape(-1, 1, 1, frame_timesteps.shape[0]), (kernel.t, 1, 1))
    slot_timesteps = steps.reshape(pooled_t, -1).t()  # (B, F')
    step_of_token = torch.arange(pooled_t, device=tokens.device).repeat_interleave(per_step)
    return TokenBlock(
        tokens=tokens,
        angles=angles,
        times=latest.to(tokens.device)[step_of_token],
        slots=step_of_token,
        slot_timesteps=slot_timesteps,
    )


def embed_tail(group: PackedGroup, embedding: PatchEmbedding, spec: RopeSpec) -> TokenBlock:
    """Pack a tail: "ta" one token per frame, "tc" one token for all frames.

    Each unit is the mean latent pixel (of a frame, or of all tail frames) filling one whole kernel,
    embedded with that kernel; its RoPE angle is the mean over the k1 cells of the frames it stands for.
    """
    kernel = embedding.kernel
    latents = group.latents
    batch, channels, frames, height, width = latents.shape
    grid = position_angles(k1_grid_positions(group.frame_indices.cpu(), k1_grid_hw((height, width))), spec)
    frame_angles = grid.mean(dim=(1, 2))  # (F, head_dim/2)
    timesteps = group.frame_timesteps()
    indices = group.frame_indices.float()
    if group.tail_mode == "ta":
        units = latents.mean(dim=(3, 4), keepdim=True)  # (B, C, F, 1, 1)
        angles, times, slot_timesteps = frame_angles, indices, timesteps
    else:
        units = latents.mean(dim=(2, 3, 4), keepdim=True)  # (B, C, 1, 1, 1)
        angles = frame_angles.mean(dim=0, keepdim=True)
        times, slot_timesteps = indices.max().view(1), timesteps.mean(dim=1, keepdim=True)
    count = units.shape[2]
    filled = units.expand(batch, channels, count, kernel.h, kernel.w).repeat_interleave(kernel.t, dim=2)
    tokens = embedding(filled)
    return TokenBlock(
        tokens=tokens,
        angles=angles.to(tokens.device),
        times=times,
        slots=torch.arange(count, device=tokens.device),
        slot_timesteps=slot_timesteps,
    )


def unpatchify_k1(tokens: torch.Tensor, frames: int, latent_hw: tuple[int, int], channels: int) -> torch.Tensor:
    """(B, F·h1·w1, C·1·2·2) k1 token outputs → latents (B, C, F, H, W), cropping replicate padding."""
    _, kh, kw = K1.size
    h1, w1 = k1_grid_hw(latent_hw)
    batch = tokens.shape[0]
    grid = tokens.reshape(batch, frames, h1, w1, channels, kh, kw)
    latents = grid.permute(0, 4, 1, 2, 5, 3, 6).reshape(batch, channels, frames, h1 * kh, w1 * kw)
    return latents[..., : latent_hw[0], : latent_hw[1]]
