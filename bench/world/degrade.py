"""Image degradations with known strengths: blur, noise, colour shift, JPEG-like blocks."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.fft import dctn, idctn

from bench.world.state import Degradation

MAX_BLUR_SIGMA = 2.0
MAX_NOISE_STD = 0.2
MAX_HUE_ROTATION = np.pi / 2
BLOCK = 8
# The JPEG luminance quantisation table, scaled so that strength 1 keeps little but the block mean.
_JPEG_TABLE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float32,
) / 16.0
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def blur(image: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian blur with sigma = 2 px × strength."""
    sigma = MAX_BLUR_SIGMA * strength
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def colour_shift(image: np.ndarray, strength: float) -> np.ndarray:
    """Rotate hue by up to 90° and desaturate by up to 40 % (in YIQ space)."""
    angle = MAX_HUE_ROTATION * strength
    c, s = np.cos(angle), np.sin(angle)
    keep = 1.0 - 0.4 * strength
    rotate = np.array([[1, 0, 0], [0, c * keep, -s * keep], [0, s * keep, c * keep]], np.float32)
    matrix = _YIQ_TO_RGB @ rotate @ _RGB_TO_YIQ
    return image @ matrix.T


def add_noise(image: np.ndarray, strength: float, seed: int) -> np.ndarray:
    """Add Gaussian noise with std 0.2 × strength, drawn from `seed`."""
    noise = np.random.default_rng(seed).standard_normal(image.shape, dtype=np.float32)
    return image + (MAX_NOISE_STD * strength) * noise


def blockiness(image: np.ndarray, strength: float) -> np.ndarray:
    """Quantise each 8×8 block's DCT coefficients, as JPEG does, with step ∝ strength."""
    h, w, c = image.shape
    blocks = image.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, c)
    coefficients = dctn(blocks, axes=(1, 3), norm="ortho")
    step = (0.35 * strength * _JPEG_TABLE)[None, :, None, :, None]
    quantised = np.round(coefficients / step) * step
    return idctn(quantised, axes=(1, 3), norm="ortho").reshape(h, w, c).astype(np.float32)


def apply_degradation(image: np.ndarray, degradation: Degradation) -> np.ndarray:
    """Degrade a float (H, W, 3) image in [0, 1]: blur, colour shift, noise, then blocks."""
    out = image
    if degradation.blur > 0:
        out = blur(out, degradation.blur)
    if degradation.colour_shift > 0:
        out = colour_shift(out, degradation.colour_shift)
    if degradation.noise > 0:
        out = add_noise(out, degradation.noise, degradation.seed)
    if degradation.blockiness > 0:
        out = blockiness(np.clip(out, 0.0, 1.0), degradation.blockiness)
    return np.clip(out, 0.0, 1.0)
