"""Dynamic degree, lab backend: does the subject really move, second by second?

VBench's rule (top-5 % optical-flow magnitudes against 6·min(H, W)/256 px) fires on any flicker of a
generated 64×64 frame and misses the lab world's slow, real motion. Here the lab perceptor's
subject trajectory is read instead:

    window      1 s of frames (round(fps)), one every half second
    moved       |mean position of the window's last 3 frames − mean of its first 3| (px); averaging
                3 frames at each end keeps a subject shaking in place from reading as travel
    moving      moved > DYNAMIC_THRESHOLD_PX · min(H, W)/64: half the lab world's median 1 s
                displacement (metrics/lab/world_motion.py)
    score       the share of moving windows (VBench gives 0/1 per video; a share separates rows
                that move part of the time)

Frames where the subject is absent do not count as a position; a window end without the subject
reads as not moving.
"""

from __future__ import annotations

import numpy as np

from metrics.lab.perceptor_metrics import PRESENT, PerceptorMetric
from metrics.lab.world_motion import DYNAMIC_THRESHOLD_PX, WORLD_FPS, WORLD_FRAME_SIZE
from metrics.metric import MetricResult
from metrics.registry import register

END_FRAMES = 3  # frames averaged at each end of a window, at the world's 16 fps


def window_displacements(position: np.ndarray, present: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
    """Net subject displacement (px) over each 1 s window, one window every half second.

    Args:
        position: (T, 2) perceived subject centre per frame, px.
        present: (T,) probability that the subject is in the frame.
        fps: frame rate; a video shorter than 1 s is one window over all its frames.

    Returns:
        (displacements (W,), frames per window).
    """
    length = len(position)
    window = min(length, max(2, round(fps)))
    ends = max(1, min(round(END_FRAMES * fps / WORLD_FPS), window // 2))
    step = max(1, window // 2)
    seen = np.asarray(present) > PRESENT
    moved = []
    for start in range(0, length - window + 1, step):
        first, last = slice(start, start + ends), slice(start + window - ends, start + window)
        if not seen[first].any() or not seen[last].any():
            moved.append(0.0)
            continue
        a = position[first][seen[first]].mean(0)
        b = position[last][seen[last]].mean(0)
        moved.append(float(np.linalg.norm(b - a)))
    return np.asarray(moved), window


def lab_dynamic_degree(position: np.ndarray, present: np.ndarray, height: int, width: int, fps: float) -> MetricResult:
    """The lab dynamic degree from the perceptor's per-frame readings (position, presence), so a
    caller that already read the frames (one batched perceptor pass) can score them without the network.

    Per-window values are 1 (moving) or 0; the score is their mean.
    """
    moved, window = window_displacements(np.asarray(position, np.float64), present, fps)
    # A window shorter than 1 s gets a proportionally smaller threshold.
    threshold = DYNAMIC_THRESHOLD_PX * min(height, width) / WORLD_FRAME_SIZE * min(1.0, window / fps)
    moving = (moved > threshold).astype(np.float64)
    return MetricResult(moving, np.arange(len(moving)), "window", float(moving.mean()),
                        {"threshold_px": threshold, "window_frames": window,
                         "median_displacement_px": float(np.median(moved))})


@register
class LabDynamicDegree(PerceptorMetric):
    name = "dynamic"
    granularity = "per_window"
    min_frames = 2
    version = "1"
    description = ("lab: share of 1 s windows in which the perceived subject travels more than half the "
                   "lab world's median (2.5 px at 64 px)")

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        seen = self.perceive(frames)
        return lab_dynamic_degree(seen.position, seen.present, frames.shape[1], frames.shape[2], fps)
