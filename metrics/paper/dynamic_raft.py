"""Dynamic degree, paper backend: VBench's rule on torchvision RAFT flow (local weights)."""

from __future__ import annotations

import numpy as np

from metrics.classical.dynamic_degree import dynamic_degree
from metrics.metric import Metric, MetricResult
from metrics.motion_rules import dynamic_count_needed, dynamic_threshold, frame_stride, is_dynamic
from metrics.paper.inference import NetworkMetric
from metrics.paper.raft_flow import RaftFlow, raft_key
from metrics.registry import register
from metrics.weights import MissingWeightsError, WeightsResolver


@register
class DynamicDegreeRAFT(NetworkMetric, Metric):
    name = "dynamic"
    backend = "paper"
    granularity = "per_pair"
    streamable = True
    min_frames = 2
    version = "1"
    description = "dynamic degree: VBench rule on torchvision RAFT flow (raft=large|small, local weights)"

    def __init__(self, weights_dir: str | None = None, raft: str = "large", device: str | None = None,
                 dtype: str = "float32", batch_size: int = 16) -> None:
        super().__init__(weights_dir)
        raft_key(raft)
        self.raft = raft
        self._set_inference(device, dtype, batch_size)

    @property
    def cache_version(self) -> str:
        return f"{self.version}+raft_{self.raft}" + self.inference.version_suffix()

    def available(self) -> tuple[bool, str]:
        try:
            WeightsResolver(self.weights_dir).require(raft_key(self.raft))
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        flow = RaftFlow(self.raft, self.weights_dir, self.inference)
        return dynamic_degree(frames, fps, flow, flow_pairs=flow.pairs)

    def streamed_score(self, values: np.ndarray, height: int, width: int, fps: float) -> tuple[float, dict]:
        """VBench's rule over every sampled pair of the video (not a mean)."""
        threshold = dynamic_threshold(height, width, fps)
        needed = dynamic_count_needed(len(values) + 1)
        details = {"threshold_px": threshold, "pairs_needed": needed,
                   "pairs_above": int((values > threshold).sum()), "frame_stride": frame_stride(fps)}
        return (1.0 if is_dynamic(values, threshold, needed) else 0.0), details
