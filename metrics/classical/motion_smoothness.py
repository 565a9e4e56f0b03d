"""Motion smoothness, classical backend: VBench's formula with DIS flow-warping interpolation."""

from __future__ import annotations

import numpy as np

from metrics.classical.optical_flow import interpolate_midpoint
from metrics.metric import Metric, MetricResult
from metrics.motion_rules import interpolation_score
from metrics.registry import register


def triplet_scores(frames: np.ndarray, interpolate, midpoints=None) -> np.ndarray:
    """Score every odd frame 2k+1 that has both even neighbours: interpolate it from 2k and 2k+2.

    Args:
        frames: uint8 (T, H, W, 3).
        interpolate: f(frame_a, frame_b) -> uint8 midpoint frame.
        midpoints: optional f(frames_a, frames_b) -> iterable of uint8 midpoint frames, one per pair
            (a batched interpolator); used instead of `interpolate` when given.

    Returns:
        (K,) scores, K = (T − 1) // 2, one per triplet k.
    """
    odd = np.arange(1, frames.shape[0] - 1, 2)
    if midpoints is not None:
        middles = midpoints(frames[odd - 1], frames[odd + 1])
    else:
        middles = (interpolate(frames[i - 1], frames[i + 1]) for i in odd)
    scores = [interpolation_score(frames[i], middle) for i, middle in zip(odd, middles, strict=True)]
    return np.asarray(scores, dtype=np.float64)


@register
class MotionSmoothnessDIS(Metric):
    name = "motion"
    backend = "classical"
    granularity = "per_triplet"
    min_frames = 3
    version = "1"
    description = "motion smoothness: odd frames from even neighbours by DIS flow warping, (255-MAE)/255"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        scores = triplet_scores(frames, interpolate_midpoint)
        return MetricResult(scores, np.arange(len(scores)), "triplet", float(scores.mean()))
