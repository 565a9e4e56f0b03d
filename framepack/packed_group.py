"""A piece of context handed to the packed model: latents, their true frame indices, one kernel."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from framepack.kernels import Kernel
from framepack.schedule import TAIL_MODES


@dataclass
class PackedGroup:
    """Context frames that are packed with one kernel.

    Args:
        latents: (B, C, F, H, W) latent frames in time order.
        frame_indices: (F,) long, the true time index of each frame (its RoPE position).
        kernel: the patchify kernel (kernel = stride); frames and pixels that do not fill whole
            kernels are replicate-padded.
        timesteps: (B, F) diffusion time of each frame in [0, 1]; None means clean (t = 0).
        tail_mode: None for an ordinary group. "ta" / "tc" mark the schedule's tail: "ta" packs each
            frame into one token (its mean latent pixel, embedded with `kernel`), "tc" packs all the
            frames into one token. A "td" tail is simply not passed to the model.
    """

    latents: torch.Tensor
    frame_indices: torch.Tensor
    kernel: Kernel
    timesteps: torch.Tensor | None = None
    tail_mode: str | None = None

    def __post_init__(self) -> None:
        if self.latents.ndim != 5:
            raise ValueError(f"PackedGroup.latents must be (B, C, F, H, W), got shape {tuple(self.latents.shape)}")
        batch, _, frames, _, _ = self.latents.shape
        if frames < 1:
            raise ValueError("PackedGroup needs at least one frame")
        self.frame_indices = torch.as_tensor(self.frame_indices, dtype=torch.long, device=self.latents.device)
        if self.frame_indices.shape != (frames,):
            raise ValueError(
                f"PackedGroup.frame_indices must have shape ({frames},) to match latents, "
                f"got {tuple(self.frame_indices.shape)}"
            )
        if not isinstance(self.kernel, Kernel):
            raise TypeError(f"PackedGroup.kernel must be a Kernel, got {type(self.kernel).__name__}")
        if self.timesteps is not None and tuple(self.timesteps.shape) != (batch, frames):
            raise ValueError(
                f"PackedGroup.timesteps must be (B, F) = ({batch}, {frames}), got {tuple(self.timesteps.shape)}"
            )
        if self.tail_mode is not None and self.tail_mode not in TAIL_MODES[1:]:
            raise ValueError(f"PackedGroup.tail_mode must be None, 'ta' or 'tc', got {self.tail_mode!r}")

    @property
    def batch_size(self) -> int:
        return int(self.latents.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.latents.shape[2])

    def frame_timesteps(self) -> torch.Tensor:
        """(B, F) timesteps, zeros for clean context."""
        if self.timesteps is None:
            return self.latents.new_zeros(self.batch_size, self.num_frames)
        return self.timesteps.to(self.latents.dtype)
