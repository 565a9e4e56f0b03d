"""Synthetic drift: a real clip changed more and more over time, with a known strength.

Each effect ramps linearly from nothing at the first frame to `strength` at the last, so a
drift metric must rank strengths in order and read ~0 at strength 0. These are the known
degradations the drift metrics are validated on (tests and bench/benchmarks/drift_metrics.py).
"""

from __future__ import annotations

import numpy as np


def _ramp(count: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, count)[:, None, None, None]


def _uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def darken(frames: np.ndarray, strength: float) -> np.ndarray:
    """Brightness scaled down to (1 − strength) by the last frame."""
    return _uint8(frames.astype(np.float64) * (1 - strength * _ramp(len(frames))))


def desaturate(frames: np.ndarray, strength: float) -> np.ndarray:
    """Mixed towards each pixel's grey (channel mean) by `strength` at the last frame."""
    frames = frames.astype(np.float64)
    grey, mix = frames.mean(-1, keepdims=True), strength * _ramp(len(frames))
    return _uint8(frames * (1 - mix) + grey * mix)


def contrast_creep(frames: np.ndarray, strength: float) -> np.ndarray:
    """Deviations from each frame's mean scaled up to (1 + strength) by the last frame."""
    frames = frames.astype(np.float64)
    mean = frames.mean(axis=(1, 2, 3), keepdims=True)
    return _uint8((frames - mean) * (1 + strength * _ramp(len(frames))) + mean)


def rotate_hue(frames: np.ndarray, strength: float) -> np.ndarray:
    """Hue (OpenCV HSV) rotated by strength × 180° by the last frame."""
    import cv2

    out = []
    for t, frame in enumerate(frames.astype(np.uint8)):
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + round(strength * 90 * t / max(1, len(frames) - 1))) % 180
        out.append(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB))
    return np.stack(out)


def blur(frames: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian blur of σ = strength px (at 64 × 64, scaled with the frame) by the last frame."""
    import cv2

    scale = frames.shape[2] / 64.0
    out = [frame if strength * t == 0 else
           cv2.GaussianBlur(frame, (0, 0), strength * scale * t / max(1, len(frames) - 1))
           for t, frame in enumerate(frames)]
    return np.stack(out)


COLOUR_EFFECTS = {"darken": darken, "desaturate": desaturate, "contrast_creep": contrast_creep,
                  "rotate_hue": rotate_hue}
