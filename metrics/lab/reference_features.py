"""reference_distance[lab]: Fréchet distance to real lab video per window, on the perceptor's reading.

Each frame becomes a 42-number feature: what the lab perceptor reads (subject presence,
position / 64, shape, colour and identity probabilities, P(structure intact), degradation)
plus the frame's 2×2 mean colour thumbnail (background and global colour, which the perceptor
does not read). All lie in [0, 1], so no dimension dominates by its unit.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from metrics.lab.perceptor_metrics import default_checkpoint
from metrics.reference_distance import ReferenceDistance
from metrics.registry import register_set

THUMBNAIL = 2  # the thumbnail is THUMBNAIL × THUMBNAIL mean colours


@functools.lru_cache(maxsize=4)
def _checkpoint_digest(path: str, mtime: float) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


@functools.lru_cache(maxsize=2)
def _perceptor(path: str, mtime: float):
    from metrics.lab.perceptor import LabPerceptor

    return LabPerceptor.load(path)


def thumbnail(frames: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    """(T, size·size·3) mean colours of a size × size grid of blocks, in [0, 1]."""
    count, height, width = frames.shape[:3]
    rows = np.array_split(np.arange(height), size)
    columns = np.array_split(np.arange(width), size)
    blocks = [frames[:, r[0]:r[-1] + 1, c[0]:c[-1] + 1].mean(axis=(1, 2)) for r in rows for c in columns]
    return np.concatenate(blocks, axis=1).reshape(count, -1) / 255.0


@register_set
class LabReferenceDistance(ReferenceDistance):
    backend = "lab"
    version = "1"
    description = ("set-level: Fréchet distance of perceptor features to real clips from the same start frames, "
                   "per window, with the real-vs-real floor")

    def __init__(self, weights_dir: str | None = None, cache: str | None = None, checkpoint: str | None = None) -> None:
        super().__init__(weights_dir, cache)
        self.checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()

    def available(self) -> tuple[bool, str]:
        if not self.checkpoint.is_file():
            return False, f"lab perceptor checkpoint not found: {self.checkpoint}"
        return True, ""

    @property
    def cache_version(self) -> str:
        if not self.checkpoint.is_file():
            return self.version
        return f"{self.version}+perceptor-{_checkpoint_digest(str(self.checkpoint), self.checkpoint.stat().st_mtime)}"

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        """(T, 42) per-frame features (see the module docstring)."""
        if not self.checkpoint.is_file():
            from metrics.lab.perceptor import PerceptorCheckpointNotFoundError

            raise PerceptorCheckpointNotFoundError(self.available()[1])
        seen = _perceptor(str(self.checkpoint), self.checkpoint.stat().st_mtime).perceive(frames)
        height, width = frames.shape[1:3]
        position = seen.position / np.array([width, height])
        return np.concatenate([
            seen.present[:, None], position, seen.shape_probs, seen.colour_probs, seen.identity_probs,
            seen.structure_intact[:, None], seen.degradation[:, None], thumbnail(frames),
        ], axis=1).astype(np.float64)

    def range_features(self, frames: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        features = self.frame_features(frames)
        return [features[first:end] for first, end in ranges]
