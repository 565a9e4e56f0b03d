"""Colourfulness of a frame: the mean magnitude of its low-pass chroma (YIQ I and Q).

The lab perceptor reads blur and noise reliably, but a hue rotation can turn one palette colour
into another that looks clean to it. Colour loss shows in the chroma instead: the lab world's
colour shift rotates hue (which keeps the I/Q magnitude) and desaturates (which scales it), so
this measure falls monotonically with it. Chroma is low-passed before taking the magnitude so
zero-mean noise averages out instead of adding colour.
"""

from __future__ import annotations

import cv2
import numpy as np

_RGB_TO_IQ = np.array([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
LOW_PASS_SIGMA = 4.0  # px at 64×64 (scaled with frame size)


def colourfulness(frames: np.ndarray) -> np.ndarray:
    """Per-frame mean |low-pass (I, Q)| of uint8 RGB frames (T, H, W, 3); (T,) float64."""
    sigma = LOW_PASS_SIGMA * frames.shape[2] / 64.0
    values = []
    for frame in frames:
        chroma = (frame.astype(np.float32) / 255.0) @ _RGB_TO_IQ.T
        smooth = cv2.GaussianBlur(chroma, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        values.append(float(np.hypot(smooth[..., 0], smooth[..., 1]).mean()))
    return np.asarray(values, dtype=np.float64)


def colour_retention(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """min(1, colourfulness(frame) / colourfulness(reference))², in [0, 1]: 1 while a frame keeps
    the reference's colour, lower as colour is lost. Squared so colour loss weighs about as much
    as the perceptor's degradation estimate (chosen on tuning seeds disjoint from the validity
    study's). A colourless reference gives 1 (nothing to lose).

    Args:
        frames: uint8 (T, H, W, 3).
        reference: uint8 (H, W, 3): the image-to-video start image, or the video's first frame.
    """
    base = colourfulness(np.asarray(reference)[None])[0]
    if base < 1e-4:
        return np.ones(len(frames))
    return np.minimum(1.0, colourfulness(frames) / base) ** 2
