"""HunyuanVideo's causal VAE as the full-scale codec, with FramePack's overlapped decoding.

The causal VAE turns n latent frames into 4(n − 1) + 1 pixel frames, and a section decoded
alone has a visible seam at its border. The released samplers therefore decode each new
section together with its already-generated neighbour section and cross-fade the
(window − 1)·4 + 1 pixel frames the two decodes share. `OverlapDecoder` does that and hands
every pixel frame to the caller as soon as no later section can blend into it, keeping only
the overlap in memory (bounded, whatever the video length).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def crossfade(earlier: torch.Tensor, later: torch.Tensor, overlap: int) -> torch.Tensor:
    """Join two pixel videos (B, 3, T, H, W) that share `overlap` frames, fading linearly
    from `earlier` (weight 1 at the first shared frame) to `later` (weight 1 at the last)."""
    if overlap <= 0:
        return torch.cat([earlier, later], dim=2)
    if earlier.shape[2] < overlap or later.shape[2] < overlap:
        raise ValueError(
            f"cannot cross-fade {overlap} frames between videos of {earlier.shape[2]} and {later.shape[2]} frames"
        )
    weight = torch.linspace(1, 0, overlap, dtype=earlier.dtype, device=earlier.device).view(1, 1, -1, 1, 1)
    shared = weight * earlier[:, :, -overlap:] + (1 - weight) * later[:, :, :overlap]
    return torch.cat([earlier[:, :, :-overlap], shared, later[:, :, overlap:]], dim=2).to(earlier)


def pixels_to_unit(video: torch.Tensor) -> torch.Tensor:
    """VAE output (B, 3, T, H, W) in [-1, 1] -> float frames (T, H, W, 3) in [0, 1] for batch 0,
    exactly as diffusers' VideoProcessor post-processes to numpy."""
    return (video[0] / 2 + 0.5).clamp(0, 1).permute(1, 2, 3, 0).float()


def unit_to_uint8(frames: torch.Tensor):
    """Float frames in [0, 1] -> uint8 numpy, rounding as diffusers' `numpy_to_pil` does."""
    return (frames.cpu().numpy() * 255).round().astype("uint8")


class HunyuanVideoCodec:
    """Encode images to FramePack latents and decode latents to pixels with the HunyuanVideo VAE.

    Args:
        vae: an `AutoencoderKLHunyuanVideo` (possibly wrapped by offload hooks).
        device: where inputs are placed for the VAE (the pipeline's execution device).
    """

    def __init__(self, vae: torch.nn.Module, device: torch.device | str) -> None:
        self.vae = vae
        self.device = torch.device(device)
        self.scaling_factor = float(vae.config.scaling_factor)
        self.temporal_ratio = int(vae.config.temporal_compression_ratio)

    @torch.no_grad()
    def encode_image(self, image: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """image (1, 3, H, W) in [-1, 1] -> latents (1, C, 1, H/8, W/8) float32, sampled from the
        VAE posterior with `generator` (so the draw order matches diffusers' pipeline)."""
        image = image.unsqueeze(2).to(device=self.device, dtype=self.vae.dtype)
        posterior = self.vae.encode(image).latent_dist
        return (posterior.sample(generator=generator) * self.scaling_factor).to(torch.float32)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, C, n, h, w) -> pixels (B, 3, 4(n−1)+1, 8h, 8w) in the VAE's range [-1, 1]."""
        latents = latents.to(device=self.device, dtype=self.vae.dtype) / self.scaling_factor
        return self.vae.decode(latents, return_dict=False)[0]

    def overlap_frames(self, window: int) -> int:
        """Pixel frames shared by the decodes of two neighbouring sections of `window` latents."""
        return (window - 1) * self.temporal_ratio + 1


class OverlapDecoder:
    """Decodes sections as they finish and emits pixel frames once they are final.

    Args:
        codec: the VAE wrapper.
        window: latent frames per section.
        total_frames: pixel frames of the finished video (to place frames in time when
            sections arrive end-first).
        reverse: True when sections arrive in reverse time order (inverted anti-drifting).
        emit: called with (first time index, pixels (B, 3, T, H, W)) for every final chunk.
    """

    def __init__(
        self,
        codec: HunyuanVideoCodec,
        window: int,
        total_frames: int,
        reverse: bool,
        emit: Callable[[int, torch.Tensor], None],
    ) -> None:
        self.codec = codec
        self.overlap = codec.overlap_frames(window)
        self.total_frames = total_frames
        self.reverse = reverse
        self.emit = emit
        self._pending: torch.Tensor | None = None  # decoded frames a later section may still blend into
        self._emitted = 0

    def add(self, section: torch.Tensor, neighbour: torch.Tensor | None) -> None:
        """Decode one finished section.

        Args:
            section: its latents in time order (the start frame included when the section touches it).
            neighbour: the previously finished section next to it in time (None for the first one);
                it is decoded together with `section` and the shared frames are cross-faded.
        """
        if neighbour is None:
            pixels = self.codec.decode(section)
        elif self.reverse:
            pixels = self.codec.decode(torch.cat([section, neighbour], dim=2))
        else:
            pixels = self.codec.decode(torch.cat([neighbour, section], dim=2))
        if self._pending is None:
            video = pixels
        elif self.reverse:
            video = crossfade(pixels, self._pending, self.overlap)
        else:
            video = crossfade(self._pending, pixels, self.overlap)
        keep = min(self.overlap, video.shape[2])
        if self.reverse:
            final, self._pending = video[:, :, keep:], video[:, :, :keep]
            first = self.total_frames - self._emitted - final.shape[2]
        else:
            final, self._pending = video[:, :, : video.shape[2] - keep], video[:, :, video.shape[2] - keep :]
            first = self._emitted
        self._emit(first, final)

    def finish(self) -> None:
        """Emit the frames still held back for blending."""
        if self._pending is None:
            return
        first = 0 if self.reverse else self._emitted
        self._emit(first, self._pending)
        self._pending = None
        if self._emitted != self.total_frames:
            raise RuntimeError(f"decoded {self._emitted} pixel frames, expected {self.total_frames}")

    def _emit(self, first: int, frames: torch.Tensor) -> None:
        if frames.shape[2] == 0:
            return
        self.emit(first, frames)
        self._emitted += frames.shape[2]
