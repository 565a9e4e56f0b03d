"""Dynamic degree, classical backend: VBench's rule and thresholds on OpenCV DIS flow."""

from __future__ import annotations

import numpy as np

from metrics.classical.optical_flow import dis_flow
from metrics.metric import Metric, MetricResult
from metrics.motion_rules import (
    dynamic_count_needed,
    dynamic_threshold,
    frame_stride,
    is_dynamic,
    top_flow_magnitude,
)
from metrics.registry import register


def dynamic_degree(frames: np.ndarray, fps: float, flow, flow_pairs=None) -> MetricResult:
    """VBench dynamic degree with any flow estimator.

    Frames are sampled at about 8 fps; each consecutive sampled pair gets the mean of its top-5 %
    flow magnitudes; the video is dynamic (score 1.0, else 0.0) when at least round(4·n/16) pairs
    exceed max(1, 8/fps)·6·min(H, W)/256 px.

    Args:
        frames: uint8 (T, H, W, 3).
        fps: the video's frame rate.
        flow: f(frame_a, frame_b) -> (H, W, 2) flow in px.
        flow_pairs: optional f(frames_a, frames_b) -> iterable of (H, W, 2) flows, one per pair (a
            batched estimator); used instead of `flow` when given.
    """
    sampled = frames[:: frame_stride(fps)]
    if len(sampled) < 2:
        raise ValueError(f"dynamic degree: {len(frames)} frames at {fps} fps leave fewer than 2 sampled frames")
    if flow_pairs is not None:
        scores = np.asarray([top_flow_magnitude(f) for f in flow_pairs(sampled[:-1], sampled[1:])])
    else:
        scores = np.asarray([top_flow_magnitude(flow(a, b)) for a, b in zip(sampled[:-1], sampled[1:], strict=True)])
    height, width = frames.shape[1:3]
    threshold = dynamic_threshold(height, width, fps)
    needed = dynamic_count_needed(len(sampled))
    dynamic = is_dynamic(scores, threshold, needed)
    details = {"threshold_px": threshold, "pairs_needed": needed, "pairs_above": int((scores > threshold).sum()),
               "frame_stride": frame_stride(fps)}
    return MetricResult(scores, np.arange(len(scores)), "pair", 1.0 if dynamic else 0.0, details)


@register
class DynamicDegreeDIS(Metric):
    name = "dynamic"
    backend = "classical"
    granularity = "per_pair"
    min_frames = 2
    version = "1"
    description = "dynamic degree: VBench rule (top-5% flow, 6*min(H,W)/256 px) on OpenCV DIS flow"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        return dynamic_degree(frames, fps, dis_flow)
