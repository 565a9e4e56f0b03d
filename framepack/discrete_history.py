"""Discrete history (+D): a K-means codebook over latent pixels and quantisation of history latents.

A latent pixel is the C-channel vector at one (frame, y, x) of a latent video. Fitting clusters
all latent pixels of the training data into K codewords; quantising replaces each latent pixel of
the history by its nearest codeword. K = 1 keeps only the global mean (no memory); K at least the
number of distinct latent pixels changes nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

_CHUNK = 65536  # latent pixels per distance computation (bounds memory, not results)


@dataclass
class Codebook:
    """K codewords of C channels.

    Attributes:
        codewords: (K, C) float tensor.
    """

    codewords: torch.Tensor

    def __post_init__(self) -> None:
        if self.codewords.ndim != 2 or self.codewords.shape[0] < 1:
            raise ValueError(f"codewords must be (K, C) with K >= 1, got shape {tuple(self.codewords.shape)}")

    @property
    def size(self) -> int:
        """K."""
        return int(self.codewords.shape[0])

    @property
    def channels(self) -> int:
        """C."""
        return int(self.codewords.shape[1])

    @classmethod
    def fit(
        cls,
        latent_pixels: torch.Tensor,
        k: int,
        seed: int = 0,
        iterations: int = 50,
        sample_size: int | None = 200_000,
        tolerance: float = 1e-6,
    ) -> Codebook:
        """K-means with k-means++ initialisation (Lloyd iterations, batched distances, on the CPU).

        Args:
            latent_pixels: (N, C) vectors, or latents (B, C, F, H, W) whose latent pixels are used.
            k: codebook size K >= 1. If the data has fewer than K distinct vectors, the codebook
                holds each of them (repeated to fill K), which makes quantisation lossless.
            seed: seeds the initialisation and the subsample; same inputs + seed → same codebook.
            iterations: maximum Lloyd iterations.
            sample_size: fit on a seeded random subsample of this many vectors (None = all).
            tolerance: stop when no codeword moves more than this (max abs change).
        """
        points = _as_pixels(latent_pixels).to(torch.float64)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if len(points) == 0:
            raise ValueError("cannot fit a codebook on zero latent pixels")
        generator = torch.Generator().manual_seed(int(seed))
        if sample_size is not None and len(points) > sample_size:
            points = points[torch.randperm(len(points), generator=generator)[:sample_size]]
        centres = _kmeans_plus_plus(points, k, generator)
        for _ in range(iterations):
            assignment = _nearest(points, centres)
            sums = torch.zeros_like(centres).index_add_(0, assignment, points)
            counts = torch.bincount(assignment, minlength=len(centres)).to(points.dtype)
            updated = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
            moved = float((updated - centres).abs().max())
            centres = updated
            if moved <= tolerance:
                break
        return cls(centres.to(torch.float32))

    def assign(self, latents: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codeword for every latent pixel of (B, C, F, H, W) latents → (B, F, H, W)."""
        pixels = _as_pixels(latents)
        indices = _nearest(pixels.to(torch.float64), self.codewords.to(torch.float64))
        batch, _, frames, height, width = latents.shape
        return indices.reshape(batch, frames, height, width)

    def quantize(self, latents: torch.Tensor) -> torch.Tensor:
        """Replace every latent pixel of (B, C, F, H, W) latents by its nearest codeword (same shape/dtype).

        A frame that is all zeros is a frame the section plan left missing (before the video, or not
        yet generated): it stays zero rather than becoming the codeword nearest to zero, so it never
        passes for a real frame (an anchored model would copy it).
        """
        if latents.ndim != 5 or latents.shape[1] != self.channels:
            raise ValueError(
                f"latents must be (B, C={self.channels}, F, H, W), got shape {tuple(latents.shape)}"
            )
        indices = self.assign(latents)
        quantized = self.codewords[indices].permute(0, 4, 1, 2, 3).to(latents.dtype).contiguous()
        missing = latents.abs().amax(dim=(1, 3, 4)) == 0  # (B, F)
        return quantized.masked_fill(missing[:, None, :, None, None], 0)

    def save(self, path: str | Path) -> None:
        """Write a safetensors file (atomically: temp file in the same folder, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(handle)
        try:
            save_file({"codewords": self.codewords.contiguous()}, temp, metadata={"meta": json.dumps({"k": self.size})})
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    @classmethod
    def load(cls, path: str | Path) -> Codebook:
        """Read a codebook written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"codebook file not found: {path} (write one with Codebook.fit(...).save(path))")
        return cls(load_file(str(path))["codewords"])


def _as_pixels(latents: torch.Tensor) -> torch.Tensor:
    """(N, C) as is; (B, C, F, H, W) → (B·F·H·W, C)."""
    if latents.ndim == 2:
        return latents
    if latents.ndim == 5:
        return latents.permute(0, 2, 3, 4, 1).reshape(-1, latents.shape[1])
    raise ValueError(f"expected latent pixels (N, C) or latents (B, C, F, H, W), got shape {tuple(latents.shape)}")


def _nearest(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centre (squared Euclidean) for each point, computed in chunks."""
    out = torch.empty(len(points), dtype=torch.long)
    centre_norms = (centres * centres).sum(dim=1)
    for start in range(0, len(points), _CHUNK):
        chunk = points[start : start + _CHUNK]
        distances = centre_norms[None, :] - 2 * chunk @ centres.T  # + |x|², constant per row
        out[start : start + _CHUNK] = distances.argmin(dim=1)
    return out


def _squared_distance(points: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Exact squared distance of every point to one centre (exactly 0 for equal vectors, which
    k-means++ relies on to never pick a duplicate)."""
    return ((points - centre[None]) ** 2).sum(dim=1)


def _kmeans_plus_plus(points: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding; when every point already coincides with a centre the remaining centres
    repeat the chosen ones (fewer distinct vectors than k)."""
    first = int(torch.randint(len(points), (1,), generator=generator))
    chosen = [points[first]]
    nearest = _squared_distance(points, chosen[0])
    while len(chosen) < k:
        total = float(nearest.sum())
        if total <= 0.0:
            break
        index = int(torch.multinomial(nearest / total, 1, generator=generator))
        chosen.append(points[index])
        nearest = torch.minimum(nearest, _squared_distance(points, points[index]))
    centres = torch.stack(chosen)
    if len(centres) < k:
        centres = centres[torch.arange(k) % len(centres)]
    return centres
