"""Motion smoothness, paper backend: a frame-interpolation network from local weights.

VBench interpolates every odd frame from its even neighbours with AMT-S and scores
(255 − mean |interpolated − real|) / 255. The interpolator is pluggable:

    interpolator="torchscript" (default): `frame_interpolator.pt`, a TorchScript export of AMT-S
        (or RIFE, ...) with the contract f(frame0, frame1, t) -> frame_t, float (1, 3, H, W) in
        [0, 1], t a (1, 1, 1, 1) tensor = 0.5. The suite does not bundle AMT's architecture.
    interpolator="raft": bidirectional torchvision RAFT flow + warping (the same midpoint rule
        as the classical backend, with RAFT's flow).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from metrics.classical.motion_smoothness import triplet_scores
from metrics.classical.optical_flow import warp
from metrics.metric import Metric, MetricResult
from metrics.paper.inference import InferenceSettings, NetworkMetric
from metrics.paper.raft_flow import RaftFlow
from metrics.registry import register
from metrics.weights import MissingWeightsError, WeightsResolver

INTERPOLATORS = ("torchscript", "raft")


@functools.lru_cache(maxsize=4)
def load_torchscript(path: str):
    """A TorchScript module on the CPU in eval mode."""
    import torch

    return torch.jit.load(path, map_location="cpu").eval()


class TorchScriptInterpolator:
    """f(frame_a, frame_b) -> uint8 midpoint frame, from a TorchScript interpolation network."""

    def __init__(self, path) -> None:
        self.model = load_torchscript(str(path))

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        import torch

        from metrics.tensors import to_float_tensor, to_uint8_frames

        pair = to_float_tensor(np.stack([frame_a, frame_b]))
        with torch.no_grad():
            middle = self.model(pair[:1], pair[1:], torch.full((1, 1, 1, 1), 0.5))
        if tuple(middle.shape) != (1, 3, *pair.shape[-2:]):
            raise ValueError(f"frame interpolator returned shape {tuple(middle.shape)}, expected "
                             f"(1, 3, {pair.shape[-2]}, {pair.shape[-1]})")
        return to_uint8_frames(middle)[0]


class RaftInterpolator:
    """Midpoint by bidirectional RAFT flow warping (see metrics.classical.optical_flow)."""

    def __init__(self, weights_dir: str | None, inference: InferenceSettings | None = None) -> None:
        self.flow = RaftFlow("large", weights_dir, inference)

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return next(self.midpoints(frame_a[None], frame_b[None]))

    def midpoints(self, frames_a: np.ndarray, frames_b: np.ndarray) -> Iterator[np.ndarray]:
        """The midpoint of each (frames_a[i], frames_b[i]), RAFT running a batch of pairs at a time."""
        forward, backward = self.flow.pairs(frames_a, frames_b), self.flow.pairs(frames_b, frames_a)
        for frame_a, frame_b, flow_ab, flow_ba in zip(frames_a, frames_b, forward, backward, strict=True):
            from_a = warp(frame_a, -0.5 * flow_ab).astype(np.float32)
            from_b = warp(frame_b, -0.5 * flow_ba).astype(np.float32)
            yield np.clip(np.rint(0.5 * (from_a + from_b)), 0, 255).astype(np.uint8)


@register
class MotionSmoothnessInterpolation(NetworkMetric, Metric):
    name = "motion"
    backend = "paper"
    granularity = "per_triplet"
    streamable = True
    min_frames = 3
    version = "1"
    description = "motion smoothness: VBench formula with a local interpolation net (interpolator=torchscript|raft)"

    def __init__(self, weights_dir: str | None = None, interpolator: str = "torchscript",
                 device: str | None = None, dtype: str = "float32", batch_size: int = 16) -> None:
        super().__init__(weights_dir)
        if interpolator not in INTERPOLATORS:
            raise ValueError(f"interpolator must be one of {INTERPOLATORS}, got {interpolator!r}")
        self.interpolator = interpolator
        self._set_inference(device, dtype, batch_size)

    @property
    def cache_version(self) -> str:
        return f"{self.version}+{self.interpolator}" + self.inference.version_suffix()

    def _key(self) -> str:
        return "frame_interpolator" if self.interpolator == "torchscript" else "raft_large"

    def available(self) -> tuple[bool, str]:
        try:
            WeightsResolver(self.weights_dir).require(self._key())
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        if self.interpolator == "torchscript":
            # The TorchScript contract is one pair per call (batch 1): not batched.
            interpolate = TorchScriptInterpolator(WeightsResolver(self.weights_dir).require("frame_interpolator"))
            scores = triplet_scores(frames, interpolate)
        else:
            interpolate = RaftInterpolator(self.weights_dir, self.inference)
            scores = triplet_scores(frames, interpolate, midpoints=interpolate.midpoints)
        return MetricResult(scores, np.arange(len(scores)), "triplet", float(scores.mean()),
                            {"interpolator": self.interpolator})
