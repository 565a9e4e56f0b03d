"""Clarity, classical backends: NIQE and PIQE from pyiqa (no learned weights).

NIQE uses its published pristine-image model (`niqe_pris_params.npz`, see
`metrics.classical.niqe_params`); when that file is absent the metric is unavailable and says
where to get it. PIQE needs no file. Both are lower-is-better and per frame.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from metrics.metric import Metric, MetricResult, MetricUnavailableError, per_frame_result
from metrics.registry import register
from metrics.weights import MissingWeightsError, WeightsResolver

# NIQE divides a frame into 96×96 blocks at two scales and fits a Gaussian over blocks, so it
# needs at least 2×2 blocks: smaller frames are upscaled (bicubic) by an integer factor first.
NIQE_MIN_SIDE = 192


def _pyiqa_missing() -> str:
    if importlib.util.find_spec("pyiqa") is None:
        return "pyiqa is not installed (make setup installs pyiqa==0.1.16 --no-deps)"
    return ""


def frames_to_tensor(frames: np.ndarray):
    """uint8 (T, H, W, 3) -> float32 torch (T, 3, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).to(torch.float32) / 255.0


def upscale_factor(height: int, width: int, min_side: int = NIQE_MIN_SIDE) -> int:
    """Smallest integer factor that brings min(H, W) to at least `min_side`."""
    return max(1, math.ceil(min_side / min(height, width)))


@register
class ClarityNIQE(Metric):
    name = "clarity"
    backend = "classical"
    direction = "lower"
    granularity = "per_frame"
    version = "1"
    description = "NIQE (pyiqa, published pristine model from basicsr); frames < 192 px upscaled bicubically"

    def _params_path(self):
        return WeightsResolver(self.weights_dir).require("niqe_params")

    def available(self) -> tuple[bool, str]:
        missing = _pyiqa_missing()
        if missing:
            return False, missing
        try:
            self._params_path()
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        missing = _pyiqa_missing()
        if missing:
            raise MetricUnavailableError(f"clarity[classical]: {missing}")
        import cv2
        import torch
        from pyiqa.archs.niqe_arch import calculate_niqe

        params = np.load(self._params_path())
        mu = torch.from_numpy(np.ravel(params["mu_pris_param"]))
        cov = torch.from_numpy(params["cov_pris_param"])
        height, width = frames.shape[1:3]
        factor = upscale_factor(height, width)
        if factor > 1:
            frames = np.stack([cv2.resize(f, (width * factor, height * factor), interpolation=cv2.INTER_CUBIC)
                               for f in frames])
        values = np.concatenate([
            calculate_niqe(frames_to_tensor(frames[i:i + 16]), 0, True, "yiq", mu, cov).reshape(-1).numpy()
            for i in range(0, len(frames), 16)
        ])
        return per_frame_result(values, upscale=factor)


@register
class ClarityPIQE(Metric):
    name = "clarity_piqe"
    backend = "classical"
    direction = "lower"
    granularity = "per_frame"
    version = "1"
    description = "PIQE (pyiqa; no parameter file), 16-px blocks"

    def available(self) -> tuple[bool, str]:
        missing = _pyiqa_missing()
        return (not missing), missing

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        missing = _pyiqa_missing()
        if missing:
            raise MetricUnavailableError(f"clarity_piqe[classical]: {missing}")
        from pyiqa.archs.piqe_arch import piqe

        values = [float(piqe(frames_to_tensor(frame[None]))[0].item()) for frame in frames]
        return per_frame_result(np.asarray(values))
