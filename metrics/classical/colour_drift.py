"""Colour drift, classical backends (no learned weights, any resolution).

The drift FramePack's users report most: colours darkening or saturating over a long video,
excess contrast at the start. Four per-frame curves in CIELAB (D65, sRGB input):

    colour_lightness  mean L* of the frame                               (0–100)
    colour_contrast   RMS contrast: the standard deviation of L*          (0–50)
    colour_chroma     mean chroma C* = sqrt(a*² + b*²)                    (0–~130)
    colour_shift      CIEDE2000 ΔE₀₀ between the frame's mean Lab colour and the reference's
                      (the image-to-video start image, else the first frame); lower is better

Drift is read from the stored curves like every metric's (start–end contrast or VDE, see
`metrics.drift`): a darkening video has a large Δ lightness, a desaturating one a large
Δ chroma, contrast creep a large Δ contrast, a hue rotation a large Δ shift at nearly
constant lightness and chroma. Lightness, contrast and chroma have no better direction
("neutral": their video score is shown but not ranked); only their drift is ranked.

Frames whose longer side exceeds 320 px are area-downscaled to 320 first (area averaging keeps
the means; the whole video costs milliseconds per frame at any resolution).
"""

from __future__ import annotations

import collections
import hashlib

import numpy as np

from metrics.metric import Metric, MetricResult, per_frame_result
from metrics.registry import register
from metrics.tensors import resize_longer_side

ANALYSIS_SIDE = 320  # longer side above which frames are area-downscaled first
_LAB_CACHE_SIZE = 4
_LAB_CACHE: collections.OrderedDict = collections.OrderedDict()


def lab_frames(frames: np.ndarray) -> np.ndarray:
    """CIELAB (T, h, w, 3) float64 of uint8 sRGB frames (kept for the last few videos, so the four
    colour metrics of one video convert it once)."""
    from skimage.color import rgb2lab

    frames = np.ascontiguousarray(frames)
    key = (frames.shape, hashlib.blake2b(frames.data, digest_size=16).hexdigest())
    if key in _LAB_CACHE:
        _LAB_CACHE.move_to_end(key)
        return _LAB_CACHE[key]
    lab = rgb2lab(resize_longer_side(frames, ANALYSIS_SIDE).astype(np.float64) / 255.0, channel_axis=-1)
    lab.setflags(write=False)
    _LAB_CACHE[key] = lab
    while len(_LAB_CACHE) > _LAB_CACHE_SIZE:
        _LAB_CACHE.popitem(last=False)
    return lab


def mean_lightness(lab: np.ndarray) -> np.ndarray:
    """(T,) mean L* per frame."""
    return lab[..., 0].mean(axis=(1, 2))


def rms_contrast(lab: np.ndarray) -> np.ndarray:
    """(T,) standard deviation of L* per frame."""
    return lab[..., 0].std(axis=(1, 2))


def mean_chroma(lab: np.ndarray) -> np.ndarray:
    """(T,) mean C* = sqrt(a*² + b*²) per frame."""
    return np.hypot(lab[..., 1], lab[..., 2]).mean(axis=(1, 2))


def colour_shift(lab: np.ndarray, reference_lab: np.ndarray) -> np.ndarray:
    """(T,) CIEDE2000 between each frame's mean Lab colour and the reference image's mean Lab colour."""
    from skimage.color import deltaE_ciede2000

    means = lab.mean(axis=(1, 2))
    reference = reference_lab.reshape(-1, 3).mean(axis=0)
    return deltaE_ciede2000(np.broadcast_to(reference, means.shape), means, channel_axis=-1)


class _ColourMetric(Metric):
    backend = "classical"
    granularity = "per_frame"
    direction = "neutral"
    version = "1"


class _ColourCurve(_ColourMetric):
    """A per-frame statistic of the frame's CIELAB pixels (`curve`: lab (T, h, w, 3) -> (T,))."""

    curve = staticmethod(mean_lightness)

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        return per_frame_result(self.curve(lab_frames(frames)))


@register
class ColourLightness(_ColourCurve):
    name = "colour_lightness"
    description = "mean CIELAB L* per frame (darkening / brightening drift)"
    curve = staticmethod(mean_lightness)


@register
class ColourContrast(_ColourCurve):
    name = "colour_contrast"
    description = "RMS contrast: std of CIELAB L* per frame (contrast creep)"
    curve = staticmethod(rms_contrast)


@register
class ColourChroma(_ColourCurve):
    name = "colour_chroma"
    description = "mean CIELAB chroma C* per frame (saturation / desaturation drift)"
    curve = staticmethod(mean_chroma)


@register
class ColourShift(_ColourMetric):
    name = "colour_shift"
    direction = "lower"
    description = "CIEDE2000 of the frame's mean colour to the start image (else frame 0), per frame"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        lab = lab_frames(frames)
        if reference is None:
            reference_lab = lab[:1]
            source = "first frame"
        else:
            reference_lab = lab_frames(np.asarray(reference, dtype=np.uint8)[None])
            source = "start image"
        return per_frame_result(colour_shift(lab, reference_lab), reference=source)
