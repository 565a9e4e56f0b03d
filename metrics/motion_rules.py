"""The VBench formulas shared by every motion backend (pure functions, any flow / interpolator)."""

from __future__ import annotations

import numpy as np


def interpolation_score(real: np.ndarray, predicted: np.ndarray) -> float:
    """VBench motion smoothness of one odd frame: (255 − mean |predicted − real|) / 255, uint8 inputs."""
    error = np.abs(real.astype(np.float64) - predicted.astype(np.float64)).mean()
    return float((255.0 - error) / 255.0)


def top_flow_magnitude(flow: np.ndarray, fraction: float = 0.05) -> float:
    """VBench dynamic degree per pair: mean of the largest `fraction` of flow magnitudes (H, W, 2) px."""
    magnitude = np.sqrt((flow.astype(np.float64) ** 2).sum(axis=-1)).reshape(-1)
    count = max(1, int(magnitude.size * fraction))
    return float(np.sort(magnitude)[::-1][:count].mean())


def frame_stride(fps: float) -> int:
    """VBench samples frames at about 8 per second: every round(fps / 8)-th frame (at least 1)."""
    return max(1, round(fps / 8.0))


def dynamic_threshold(height: int, width: int, fps: float) -> float:
    """VBench threshold on the per-pair top-5 % magnitude: max(1, 8/fps) · 6 · min(H, W) / 256."""
    return max(1.0, 8.0 / fps) * 6.0 * min(height, width) / 256.0


def dynamic_count_needed(sampled_frames: int) -> int:
    """How many pairs must exceed the threshold: round(4 · n / 16) with n the number of sampled frames."""
    return round(4 * (sampled_frames / 16.0))


def is_dynamic(pair_scores: np.ndarray, threshold: float, count_needed: int) -> bool:
    """VBench's decision: dynamic when at least `count_needed` pair scores exceed `threshold`.

    (VBench counts scores strictly above the threshold and stops as soon as the count reaches
    `count_needed`; with count_needed = 0 a video is dynamic, as there.)
    """
    return int((np.asarray(pair_scores) > threshold).sum()) >= count_needed
