"""Clarity, paper backend: MUSIQ trained on SPAQ (pyiqa), as VBench's imaging quality.

Frames whose longer side exceeds 512 px are shrunk to 512 (VBench's resizing); each frame is
scored in [0, 1] (MUSIQ's 0..100 divided by 100); the video score is the mean.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from metrics.metric import Metric, MetricResult, MetricUnavailableError, per_frame_result
from metrics.paper.inference import NetworkMetric
from metrics.registry import register
from metrics.tensors import resize_longer_side, to_float_tensor
from metrics.weights import MissingWeightsError, WeightsResolver


@register
class ClarityMUSIQ(NetworkMetric, Metric):
    name = "clarity"
    backend = "paper"
    granularity = "per_frame"
    streamable = True
    version = "1"
    description = "MUSIQ-SPAQ (pyiqa) per frame, longer side <= 512, /100 (VBench imaging quality)"

    def __init__(self, weights_dir: str | None = None, device: str | None = None, dtype: str = "float32",
                 batch_size: int = 16) -> None:
        super().__init__(weights_dir)
        self._set_inference(device, dtype, batch_size)
        self._model = None

    @property
    def cache_version(self) -> str:
        return self.version + self.inference.version_suffix()

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("pyiqa") is None:
            return False, "pyiqa is not installed (make setup installs pyiqa==0.1.16 --no-deps)"
        try:
            WeightsResolver(self.weights_dir).require("musiq_spaq")
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def model(self):
        """The MUSIQ network loaded from the local SPAQ checkpoint (loaded once)."""
        if self._model is None:
            path = WeightsResolver(self.weights_dir).require("musiq_spaq")
            try:
                from pyiqa.archs.musiq_arch import MUSIQ
            except ImportError as error:
                raise MetricUnavailableError(f"clarity[paper]: pyiqa is not installed ({error})") from error
            model = MUSIQ(pretrained_model_path=str(path))
            self._model = model.eval().to(self.inference.resolved_device())
        return self._model

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        import torch

        model = self.model()
        device = self.inference.resolved_device()
        frames = resize_longer_side(frames, 512)
        values: list[float] = []
        with torch.no_grad(), self.inference.autocast():
            for batch in self.inference.batches(len(frames)):
                scores = model(to_float_tensor(frames[batch]).to(device)).reshape(-1).float().cpu()
                values.extend(float(score) / 100.0 for score in scores)
        return per_frame_result(np.asarray(values))
