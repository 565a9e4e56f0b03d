"""Anatomy, paper backend: a pluggable detector + anomaly classifier from local files (VBench-2.0 style).

Per frame, the detector proposes subjects (humans / faces / hands in VBench-2.0); every detection
scoring at least `min_detection_score` is cropped, resized to 224×224 and given to the anomaly
classifier. A frame is anomalous when any crop's P(anomalous) exceeds `anomaly_threshold`. The
per-frame value is 1 (no anomaly) or 0; the video score is the share of frames without an
anomaly, VBench-2.0's human-anatomy scoring. Frames without detections count as not anomalous;
the number of frames with detections is reported in `details`.

Files (TorchScript, see `metrics.weights`): anatomy_detector.pt with
f(image float (1, 3, H, W) in [0, 1]) -> (boxes (N, 4) xyxy px, scores (N,)), and
anatomy_classifier.pt with f(crops float (N, 3, 224, 224) in [0, 1]) -> P(anomalous) (N,).
"""

from __future__ import annotations

import numpy as np

from metrics.metric import Metric, MetricResult
from metrics.paper.motion_interpolation import load_torchscript
from metrics.registry import register
from metrics.tensors import to_float_tensor
from metrics.weights import MissingWeightsError, WeightsResolver


def crop_boxes(image, boxes, size: int = 224):
    """Crops of `image` (1, 3, H, W) at integer-clamped xyxy `boxes`, each resized to size×size."""
    import torch
    import torch.nn.functional as F

    height, width = image.shape[-2:]
    crops = []
    for x0, y0, x1, y1 in boxes.tolist():
        x0, x1 = sorted((int(max(0, min(width - 1, x0))), int(max(1, min(width, x1)))))
        y0, y1 = sorted((int(max(0, min(height - 1, y0))), int(max(1, min(height, y1)))))
        patch = image[..., y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
        crops.append(F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False))
    return torch.cat(crops) if crops else image.new_zeros((0, 3, size, size))


@register
class AnatomyDetectorClassifier(Metric):
    name = "anatomy"
    backend = "paper"
    granularity = "per_frame"
    streamable = True
    summed_details = ("frames_with_detections",)
    version = "1"
    description = "share of frames whose detected subjects the anomaly classifier passes (local TorchScript files)"

    def __init__(self, weights_dir: str | None = None, min_detection_score: float = 0.3,
                 anomaly_threshold: float = 0.5) -> None:
        super().__init__(weights_dir)
        self.min_detection_score = min_detection_score
        self.anomaly_threshold = anomaly_threshold

    @property
    def cache_version(self) -> str:
        return f"{self.version}+det{self.min_detection_score}+thr{self.anomaly_threshold}"

    def available(self) -> tuple[bool, str]:
        resolver = WeightsResolver(self.weights_dir)
        try:
            resolver.require("anatomy_detector")
            resolver.require("anatomy_classifier")
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        import torch

        resolver = WeightsResolver(self.weights_dir)
        detector = load_torchscript(str(resolver.require("anatomy_detector")))
        classifier = load_torchscript(str(resolver.require("anatomy_classifier")))
        values, with_detections = [], 0
        with torch.no_grad():
            for image in to_float_tensor(frames):
                boxes, scores = detector(image[None])
                keep = boxes[scores.reshape(-1) >= self.min_detection_score]
                if len(keep) == 0:
                    values.append(1.0)
                    continue
                with_detections += 1
                anomalous = classifier(crop_boxes(image[None], keep)).reshape(-1) > self.anomaly_threshold
                values.append(0.0 if bool(anomalous.any()) else 1.0)
        values = np.asarray(values)
        return MetricResult(values, np.arange(len(values)), "frame", float(values.mean()),
                            {"frames_with_detections": with_detections})
