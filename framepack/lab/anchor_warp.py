"""Motion-compensated anchors: move an anchor frame along a flow, in pixels.

An anchored model predicts each noisy frame as its nearest real context frame plus a correction
(`framepack.lab.context_anchor`). On the lab world the correction has to redraw the subject a few
pixels away, a shift inside one 16×16-px token that the small models do not learn: they copy. With
a motion prior (`framepack.lab.motion_prior`) the anchor's subject is first moved by the section's
motion, as video codecs predict a frame by motion compensation and code only the residual.

The warp happens in pixels because a linear codec's latents are patch coefficients: blending
neighbouring latents blurs, it does not shift. `PixelView` holds the codec's fixed linear map, so
the model needs no codec at run time; the warped anchor is a + E(warp(D(a)) − D(a)), exactly a
when the flow is zero whatever the stored precision of the basis. Pixels between samples are read
bicubically: a bilinear read at a fractional offset blurs the sprite, which the perceptor counts as
degradation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PixelView(nn.Module):
    """The fixed linear map between normalised latents and pixels of a linear (patch-PCA) codec.

    Buffers (saved with the model): `components` (C, 3, p, p) orthonormal patch basis,
    `patch_mean` (3, p, p), and the latent normalisation `shift`, `scale` (C,). Zero until
    `copy_from_codec`, which makes every warp the identity.
    """

    def __init__(self, channels: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.register_buffer("components", torch.zeros(channels, 3, patch, patch))
        self.register_buffer("patch_mean", torch.zeros(3, patch, patch))
        self.register_buffer("shift", torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))

    @torch.no_grad()
    def copy_from_codec(self, codec) -> None:
        """Take the basis of a `framepack.lab.codec.LabCodec` of kind "linear"."""
        config = codec.config
        if config.kind != "linear" or config.downsample != self.patch or config.latent_channels != self.shift.numel():
            raise ValueError(
                f"a warped anchor needs a linear codec with downsample {self.patch} and {self.shift.numel()} "
                f"latent channels, got kind={config.kind!r}, downsample={config.downsample}, "
                f"latent_channels={config.latent_channels}"
            )
        self.components.copy_(codec.encoder.weight)
        self.patch_mean.copy_(codec.patch_mean)
        self.shift.copy_(codec.latent_shift)
        self.scale.copy_(codec.latent_scale)

    def to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (N, C, h, w) → linear-decoded frames (N, 3, h·p, w·p)."""
        raw = latents * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)
        h, w = latents.shape[-2:]
        return F.conv_transpose2d(raw, self.components, stride=self.patch) + self.patch_mean.repeat(1, h, w)

    def difference_to_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        """A pixel difference (N, 3, H, W) → the normalised latent difference it encodes to."""
        return F.conv2d(pixels, self.components, stride=self.patch) / self.scale.view(1, -1, 1, 1)

    def warp(self, latents: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Move frames along a flow.

        Args:
            latents: (B, C, F, h, w) normalised latents.
            flow: (B, 2, F, h', w') displacement (x, y) in pixels on any grid (latent pixels, or
                the finer cells of a motion prior); upsampled bilinearly, and each output pixel
                takes the input at its position minus the flow, read bicubically.
        Returns:
            (B, C, F, h, w) the warped latents.
        """
        b, c, f, h, w = latents.shape
        frames = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        pixels = self.to_pixels(frames)
        size = pixels.shape[-2:]
        motion = flow.permute(0, 2, 1, 3, 4).reshape(b * f, 2, *flow.shape[-2:])
        motion = F.interpolate(motion, size=size, mode="bilinear", align_corners=False)
        ys = (torch.arange(size[0], dtype=pixels.dtype) + 0.5) * 2 / size[0] - 1
        xs = (torch.arange(size[1], dtype=pixels.dtype) + 0.5) * 2 / size[1] - 1
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
        offset = torch.stack((motion[:, 0] * 2 / size[1], motion[:, 1] * 2 / size[0]), dim=-1)
        moved = F.grid_sample(pixels, base - offset, mode="bicubic", padding_mode="border", align_corners=False)
        warped = frames + self.difference_to_latents(moved - pixels)
        return warped.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)
