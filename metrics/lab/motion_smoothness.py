"""Motion smoothness, lab backend: penalise jitter, teleports and flicker, never smooth motion.

VBench interpolates odd frames from even ones and scores (255 − error)/255; on 64×64 lab frames every
video reads 0.99 and real motion is not told from a still frame that flickers. Here two readings
per interior frame t, each measured against what the lab world's own real clips show
(metrics/lab/world_motion.py):

    trajectory  a(t) = |p(t−1) − 2 p(t) + p(t+1)|, the perceived subject centre's second difference
                (px): ≈ 0 for smooth motion, large for jitter and at a teleport
    flicker     f(t) = mean over pixels of |g(t) − median(g(t−1), g(t), g(t+1))| on grey levels: 0 for
                a pixel that changes monotonically (smooth motion), large for one-frame flashes
                (speckle, flicker) and back-and-forth shaking

    value(t) = exp(−max(0, a(t)/A − 1)) · exp(−max(0, f(t)/F − 1))

with A and F the 99th percentiles of the real clips (1.22 px at 64 px, scaled with the frame size;
0.75 grey levels): motion as smooth as the world's costs nothing, and each further multiple of the
world's worst case costs a factor e. Frames where the subject pops in or out (present in some of the
three frames, not all) get trajectory 0; with no subject in all three it is 1. Videos above 16 fps are
read at about 16 fps (every round(fps/16)-th frame), the rate the statistics were measured at. The
score is the mean over frames.
"""

from __future__ import annotations

import numpy as np

from metrics.lab.perceptor_metrics import PRESENT, PerceptorMetric
from metrics.lab.world_motion import FLICKER_P99_GREY, SECOND_DIFFERENCE_P99_PX, WORLD_FPS, WORLD_FRAME_SIZE
from metrics.metric import MetricResult
from metrics.registry import register


def frame_stride(fps: float) -> int:
    """Read frames at about the world's 16 fps."""
    return max(1, round(fps / WORLD_FPS))


def flicker(frames: np.ndarray) -> np.ndarray:
    """(T − 2,) mean |g(t) − median of g(t−1), g(t), g(t+1)| over pixels, grey levels, uint8 (T, H, W, 3)."""
    grey = frames.astype(np.float32).mean(axis=-1)
    middle = np.median(np.stack([grey[:-2], grey[1:-1], grey[2:]]), axis=0)
    return np.abs(grey[1:-1] - middle).mean(axis=(1, 2)).astype(np.float64)


def trajectory_smoothness(position: np.ndarray, present: np.ndarray, scale_px: float) -> np.ndarray:
    """(T − 2,) exp(−max(0, a(t)/scale − 1)) of the second difference a(t); presence flips read 0."""
    position = np.asarray(position, np.float64)
    seen = np.asarray(present) > PRESENT
    second = np.linalg.norm(position[:-2] - 2 * position[1:-1] + position[2:], axis=1)
    values = np.exp(-np.maximum(0.0, second / scale_px - 1.0))
    in_all = seen[:-2] & seen[1:-1] & seen[2:]
    in_none = ~seen[:-2] & ~seen[1:-1] & ~seen[2:]
    return np.where(in_all, values, np.where(in_none, 1.0, 0.0))


def lab_motion_smoothness(frames: np.ndarray, position: np.ndarray, present: np.ndarray, fps: float) -> MetricResult:
    """The lab motion smoothness from the frames and the perceptor's per-frame readings (position,
    presence) of those same frames, so it can join one batched perceptor pass. Values per interior
    frame t of the frames read (index = t in the video)."""
    stride = frame_stride(fps)
    frames, position, present = frames[::stride], np.asarray(position)[::stride], np.asarray(present)[::stride]
    if len(frames) < 3:
        raise ValueError(f"motion[lab]: needs at least 3 frames at about {WORLD_FPS:g} fps, got {len(frames)}")
    scale_px = SECOND_DIFFERENCE_P99_PX * min(frames.shape[1:3]) / WORLD_FRAME_SIZE
    path = trajectory_smoothness(position, present, scale_px)
    pixels = flicker(frames)
    values = path * np.exp(-np.maximum(0.0, pixels / FLICKER_P99_GREY - 1.0))
    index = np.arange(1, len(frames) - 1) * stride
    return MetricResult(values, index, "frame", float(values.mean()),
                        {"trajectory": float(path.mean()), "flicker_grey": float(pixels.mean()), "frame_stride": stride})


@register
class LabMotionSmoothness(PerceptorMetric):
    name = "motion"
    min_frames = 3
    version = "1"
    description = ("lab: subject-path second difference and pixel flicker against the lab world's 99th "
                   "percentiles, exp(-excess), per frame")

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        seen = self.perceive(frames)
        return lab_motion_smoothness(frames, seen.position, seen.present, fps)
