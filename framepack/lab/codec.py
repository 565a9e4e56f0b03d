"""The lab latent codec: 64×64 RGB frames ↔ latents, frame by frame (no temporal compression).

Two kinds share one module:
- "linear" (the default): a fixed orthogonal transform of non-overlapping `downsample`² patches onto
  their first `latent_channels` principal components, fitted on world frames (`fit_linear`). On the
  lab world this measured far better than the convolutional autoencoder within the CPU budget
  (31.5 dB vs 23.4 dB held-out PSNR, see results/checkpoints/codec_report.json) and costs nothing
  to run.
- "conv": a small convolutional autoencoder (pixel-unshuffle, strided convs, residual blocks).

A video of T frames has T latent frames. Latents are normalised per channel with a shift and scale measured on the world after
training and stored in the checkpoint, so the diffusion models see roughly unit-variance latents.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

CODEC_KINDS = ("linear", "conv")


@dataclass(frozen=True)
class LabCodecConfig:
    """Shape of the codec.

    Args:
        kind: "linear" (patch PCA) or "conv" (learned autoencoder).
        image_size: side of the square RGB frames (pixels).
        latent_channels: channels of a latent pixel.
        downsample: spatial factor between frames and latents (a power of two).
        widths: channels of the stages at 1/2, 1/4, ... resolution (one per halving). Full
            resolution is reached by pixel (un)shuffle only, which keeps the codec cheap on a CPU.
        refiner_width, refiner_blocks: linear kind only: a small residual convolutional net applied
            after the linear decoder (0 = none). It removes the 8×8 block edges of the patch
            transform without changing the latent space (the encoder stays the PCA projection).
    """

    kind: str = "linear"
    image_size: int = 64
    latent_channels: int = 32
    downsample: int = 8
    widths: tuple[int, ...] = ()
    refiner_width: int = 0
    refiner_blocks: int = 2

    def __post_init__(self) -> None:
        if self.refiner_width and (self.kind != "linear" or self.refiner_width % 8):
            raise ValueError(
                f"refiner_width is for the linear kind and must be a multiple of 8, got {self.refiner_width} ({self.kind})"
            )
        if self.kind not in CODEC_KINDS:
            raise ValueError(f"codec kind must be one of {CODEC_KINDS}, got {self.kind!r}")
        if self.downsample < 2 or self.downsample & (self.downsample - 1):
            raise ValueError(f"downsample must be a power of two >= 2, got {self.downsample}")
        if self.kind == "linear" and self.latent_channels > 3 * self.downsample**2:
            raise ValueError(
                f"a linear codec keeps at most 3·{self.downsample}² = {3 * self.downsample**2} components, "
                f"got latent_channels={self.latent_channels}"
            )
        stages = self.downsample.bit_length() - 1
        if self.kind == "conv" and len(self.widths) != stages:
            raise ValueError(
                f"widths needs {stages} entries for downsample {self.downsample} (one per halving), "
                f"got {len(self.widths)}"
            )
        if self.image_size % self.downsample:
            raise ValueError(f"image_size {self.image_size} is not divisible by downsample {self.downsample}")

    @property
    def latent_size(self) -> int:
        return self.image_size // self.downsample


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def build_refiner(width: int, blocks: int) -> nn.Sequential:
    """The linear codec's residual refiner (frames → correction, both (N, 3, H, W)); its last layer
    starts at zero, so a new refiner is the identity: refined = linear decode."""
    last = nn.Conv2d(width, 12, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.PixelUnshuffle(2), nn.Conv2d(12, width, 3, padding=1),
        *[_ResBlock(width) for _ in range(blocks)],
        nn.GroupNorm(8, width), nn.SiLU(), last, nn.PixelShuffle(2),
    )


class LabCodec(nn.Module):
    """Frame ↔ latent autoencoder.

    `encode` takes frames float (B, 3, T, H, W) in [-1, 1] and returns normalised latents
    (B, C, T, h, w); `decode` inverts it, clamping to [-1, 1].
    """

    def __init__(self, config: LabCodecConfig | None = None) -> None:
        super().__init__()
        self.config = config or LabCodecConfig()
        # Per-channel normalisation, measured after training (identity until then).
        self.register_buffer("latent_shift", torch.zeros(self.config.latent_channels))
        self.register_buffer("latent_scale", torch.ones(self.config.latent_channels))
        if self.config.kind == "linear":
            patch, channels = self.config.downsample, self.config.latent_channels
            self.encoder = nn.Conv2d(3, channels, patch, stride=patch)
            self.decoder = nn.ConvTranspose2d(channels, 3, patch, stride=patch, bias=False)
            # The mean patch, added back after the transposed projection.
            self.register_buffer("patch_mean", torch.zeros(3, patch, patch))
            if self.config.refiner_width:
                self.refiner = build_refiner(self.config.refiner_width, self.config.refiner_blocks)
            return
        widths = self.config.widths
        encoder: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(12, widths[0], 3, padding=1), _ResBlock(widths[0])]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), _ResBlock(c_out)]
        encoder += [nn.GroupNorm(8, widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], self.config.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [nn.Conv2d(self.config.latent_channels, widths[-1], 3, padding=1), _ResBlock(widths[-1])]
        for c_in, c_out in zip(widths[::-1][:-1], widths[::-1][1:], strict=True):
            decoder += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1), _ResBlock(c_out)]
        decoder += [nn.GroupNorm(8, widths[0]), nn.SiLU(), nn.Conv2d(widths[0], 12, 3, padding=1), nn.PixelShuffle(2)]
        self.decoder = nn.Sequential(*decoder)

    @torch.no_grad()
    def fit_linear(self, frames: torch.Tensor, whitening: float = 0.5) -> None:
        """Fit a "linear" codec: principal components of the patches of `frames` (N, 3, H, W) in
        [-1, 1], then the normalisation.

        Args:
            frames: training frames.
            whitening: per-channel scale = std_c^whitening (times one global factor making the
                latents unit-variance overall). 1 whitens fully (every component equally loud to the
                diffusion model), 0 keeps the PCA spectrum (details drown first in noise); 0.5 is
                between.
        """
        if self.config.kind != "linear":
            raise ValueError("fit_linear is only for a codec of kind 'linear'")
        patch, channels = self.config.downsample, self.config.latent_channels
        patches = F.unfold(frames.float(), patch, stride=patch).transpose(1, 2).reshape(-1, 3 * patch * patch)
        mean = patches.mean(0)
        _, _, basis = torch.linalg.svd(patches - mean, full_matrices=False)
        components = basis[:channels]  # (K, 3·p·p), orthonormal rows
        # Deterministic sign: the largest entry of each component is positive.
        signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
        components = components * signs
        weight = components.view(channels, 3, patch, patch)
        self.encoder.weight.copy_(weight)
        self.encoder.bias.copy_(-(components @ mean))
        self.decoder.weight.copy_(weight)  # ConvTranspose2d weight is (in=K, out=3, p, p)
        self.patch_mean.copy_(mean.view(3, patch, patch))
        z = self.encoder(frames.float())
        std = z.std(dim=(0, 2, 3)).clamp_min(1e-6)
        # scale_c = g·std_c^w with g chosen so the mean of (std_c / scale_c)² is 1.
        scale = std**whitening * torch.sqrt((std ** (2 * (1 - whitening))).mean())
        self.latent_shift.copy_(z.mean(dim=(0, 2, 3)))
        self.latent_scale.copy_(scale)

    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    @property
    def latent_size(self) -> int:
        return self.config.latent_size

    # Frame-level (B·T, C, H, W) transforms, unnormalised; used by training.
    def encode_frames_raw(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames)

    def decode_frames_raw(self, latents: torch.Tensor) -> torch.Tensor:
        if self.config.kind == "linear":
            h, w = latents.shape[-2:]
            frames = self.decoder(latents) + self.patch_mean.repeat(1, h, w)
            if self.config.refiner_width:
                frames = frames + self.refiner(frames)
            return frames
        return self.decoder(latents)

    def _normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_shift.view(1, -1, 1, 1)) / self.latent_scale.view(1, -1, 1, 1)

    def _denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_scale.view(1, -1, 1, 1) + self.latent_shift.view(1, -1, 1, 1)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames float (B, 3, T, H, W) in [-1, 1] → normalised latents (B, C, T, h, w)."""
        if frames.ndim != 5 or frames.shape[1] != 3 or frames.shape[-1] != self.config.image_size:
            raise ValueError(
                f"encode expects frames (B, 3, T, {self.config.image_size}, {self.config.image_size}), "
                f"got {tuple(frames.shape)}"
            )
        b, _, t, h, w = frames.shape
        flat = frames.permute(0, 2, 1, 3, 4).reshape(b * t, 3, h, w)
        z = self._normalise(self.encode_frames_raw(flat))
        return z.reshape(b, t, *z.shape[1:]).permute(0, 2, 1, 3, 4)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, C, T, h, w) → frames float (B, 3, T, H, W) in [-1, 1]."""
        if latents.ndim != 5 or latents.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"decode expects latents (B, {self.config.latent_channels}, T, h, w), got {tuple(latents.shape)}"
            )
        b, c, t, h, w = latents.shape
        flat = latents.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        x = self.decode_frames_raw(self._denormalise(flat)).clamp(-1, 1)
        return x.reshape(b, t, *x.shape[1:]).permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def encode_uint8(self, frames) -> torch.Tensor:
        """uint8 video (T, H, W, 3) (numpy or tensor) → normalised latents (1, C, T, h, w)."""
        video = torch.as_tensor(frames)
        x = video.permute(3, 0, 1, 2).unsqueeze(0).float() / 127.5 - 1.0
        return self.encode(x)

    @torch.no_grad()
    def decode_uint8(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (1, C, T, h, w) → uint8 numpy video (T, H, W, 3)."""
        x = self.decode(latents)[0]
        return ((x.permute(1, 2, 3, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()

    def save(self, path: str | os.PathLike) -> None:
        """Write weights and config to one safetensors file (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {name: t.detach().contiguous().clone() for name, t in self.state_dict().items()}
        metadata = {"kind": "LabCodec", "config": json.dumps(asdict(self.config))}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabCodec:
        """Rebuild a codec saved by `save`; raises FileNotFoundError naming the path if absent."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"lab codec checkpoint not found: {path} (train one with `fpbench train bench/train/configs/codec.yaml`)"
            )
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("kind") != "LabCodec":
            raise ValueError(f"{path} is not a LabCodec checkpoint (kind={metadata.get('kind')!r})")
        raw = json.loads(metadata["config"])
        raw["widths"] = tuple(raw["widths"])
        codec = cls(LabCodecConfig(**raw))
        codec.load_state_dict(load_file(str(path)))
        codec.eval()
        return codec


DEFAULT_CODEC_PATH = Path(__file__).resolve().parent.parent / "results" / "checkpoints" / "codec.safetensors"
