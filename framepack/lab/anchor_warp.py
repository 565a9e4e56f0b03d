"""Motion-compensated anchors: move the anchor frame along a predicted flow, in pixels.

An anchored model predicts each noisy frame as its nearest real context frame plus a correction
(`framepack.lab.context_anchor`). On the lab world the correction has to redraw the subject a few
pixels away, a shift inside one 16×16-px token that the small models never learned: they copy
(results/checkpoints/base_trials/motion_trials.json). With a warped anchor the network also
predicts a coarse flow field, and the anchor is resampled along it before the correction is added,
so motion is two numbers per latent pixel instead of a redrawn sprite — as video codecs predict a
frame by motion compensation and code only the residual.

The warp happens in pixels because a linear codec's latents are patch coefficients: blending
neighbouring latents blurs, it does not shift. `PixelView` holds the codec's fixed linear map, so
the model needs no codec at run time; the warped anchor is a + E(warp(D(a)) − D(a)), exactly a
when the flow is zero whatever the stored precision of the basis. D may include a copy of the codec's
refiner: the linear decode has faint 8-px block edges, and a shifted copy of them is off the patch
grid, where neither the basis nor the refiner can remove it (results/bench/warp_ceiling.json).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from framepack.lab.codec import build_refiner

# The flow head's unit output moves the anchor this many pixels, so a zero-initialised head
# reaches a section's displacement (a few pixels) with unit-scale weights.
FLOW_SCALE_PX = 4.0
# With `warp_flow="velocity"` a unit output is this many pixels per frame (real subjects: 0.25–1).
VELOCITY_SCALE_PX = 1.0
RESAMPLING = ("bilinear", "bicubic")


class PixelView(nn.Module):
    """The fixed linear map between normalised latents and pixels of a linear (patch-PCA) codec.

    Buffers (saved with the model): `components` (C, 3, p, p) orthonormal patch basis,
    `patch_mean` (3, p, p), and the latent normalisation `shift`, `scale` (C,). Zero until
    `copy_from_codec`, which makes every warp the identity. With `refiner_width` > 0 it also holds
    a frozen copy of the codec's refiner, and warps the refined decode.
    """

    def __init__(self, channels: int, patch: int, refiner_width: int = 0, refiner_blocks: int = 2) -> None:
        super().__init__()
        self.patch = patch
        self.register_buffer("components", torch.zeros(channels, 3, patch, patch))
        self.register_buffer("patch_mean", torch.zeros(3, patch, patch))
        self.register_buffer("shift", torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))
        self.refiner_shape = (refiner_width, refiner_blocks)
        self.refiner = build_refiner(refiner_width, refiner_blocks).requires_grad_(False) if refiner_width else None

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
        if self.refiner is not None:
            if (config.refiner_width, config.refiner_blocks) != self.refiner_shape:
                raise ValueError(
                    f"this warp refines with a refiner of (width, blocks) {self.refiner_shape}, the codec has "
                    f"refiner_width={config.refiner_width}, refiner_blocks={config.refiner_blocks}"
                )
            self.refiner.load_state_dict(codec.refiner.state_dict())
        self.components.copy_(codec.encoder.weight)
        self.patch_mean.copy_(codec.patch_mean)
        self.shift.copy_(codec.latent_shift)
        self.scale.copy_(codec.latent_scale)

    def to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (N, C, h, w) → linear-decoded frames (N, 3, h·p, w·p)."""
        raw = latents * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)
        h, w = latents.shape[-2:]
        return F.conv_transpose2d(raw, self.components, stride=self.patch) + self.patch_mean.repeat(1, h, w)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (N, C, h, w) → the frames the warp moves: the linear decode, refined
        when this view holds a refiner."""
        pixels = self.to_pixels(latents)
        if self.refiner is None:
            return pixels
        if latents.requires_grad:
            return pixels + self.refiner(pixels)
        # a section's anchors repeat one or two context frames: refine each distinct frame once
        distinct, which = torch.unique(pixels.flatten(1), dim=0, return_inverse=True)
        distinct = distinct.view(-1, *pixels.shape[1:])
        return (distinct + self.refiner(distinct))[which]

    def difference_to_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        """A pixel difference (N, 3, H, W) → the normalised latent difference it encodes to."""
        return F.conv2d(pixels, self.components, stride=self.patch) / self.scale.view(1, -1, 1, 1)

    def warp(self, latents: torch.Tensor, flow: torch.Tensor, resample: str = "bilinear") -> torch.Tensor:
        """Move frames along a flow.

        Args:
            latents: (B, C, F, h, w) normalised latents.
            flow: (B, 2, F, h', w') displacement (x, y) in pixels on any grid (latent pixels, or
                the finer cells of a motion prior); upsampled bilinearly, and each output pixel takes the input at its position minus the flow.
            resample: how pixels between samples are read, "bilinear" or "bicubic" (sharper: a
                bilinear read at a fractional offset blurs the sprite, which the perceptor counts
                as degradation; results/bench/warp_ceiling.json).
        Returns:
            (B, C, F, h, w) the warped latents.
        """
        b, c, f, h, w = latents.shape
        frames = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        pixels = self.decode(frames)
        size = pixels.shape[-2:]
        motion = flow.permute(0, 2, 1, 3, 4).reshape(b * f, 2, *flow.shape[-2:])
        motion = F.interpolate(motion, size=size, mode="bilinear", align_corners=False)
        ys = (torch.arange(size[0], dtype=pixels.dtype) + 0.5) * 2 / size[0] - 1
        xs = (torch.arange(size[1], dtype=pixels.dtype) + 0.5) * 2 / size[1] - 1
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
        offset = torch.stack((motion[:, 0] * 2 / size[1], motion[:, 1] * 2 / size[0]), dim=-1)
        if resample not in RESAMPLING:
            raise ValueError(f"resample must be one of {RESAMPLING}, got {resample!r}")
        moved = F.grid_sample(pixels, base - offset, mode=resample, padding_mode="border", align_corners=False)
        warped = frames + self.difference_to_latents(moved - pixels)
        return warped.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)
