"""The `Metric` interface and its result type.

A metric turns a video (uint8 frames) and its prompt into per-unit values (per frame, per
consecutive pair, per odd-frame triplet or per window) plus one video score. Drift and
per-window curves are computed later from the stored per-unit values (see `metrics.drift`),
never by a metric itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from metrics.motion_rules import frame_stride

Granularity = Literal["per_frame", "per_pair", "per_triplet", "per_window", "per_video"]
Backend = Literal["paper", "classical", "lab"]
# "neutral": a quantity with no better direction (e.g. mean lightness); only its drift is ranked.
Direction = Literal["higher", "lower", "neutral"]

# The lab world's nominal frame rate, used when a caller does not know a video's rate.
DEFAULT_FPS = 16.0
# The lab world's frame size. Lab backends analyse every video at this size (resized once, at
# `Metric.__call__`), as the paper backends resize to their networks' inputs: their cost per
# frame is bounded whatever the input size, and lab-world videos are measured as they are.
LAB_ANALYSIS_SIZE = 64

# Which index a stored value carries, by granularity.
INDEX_KIND: dict[str, str] = {
    "per_frame": "frame",
    "per_pair": "pair",
    "per_triplet": "triplet",
    "per_window": "window",
    "per_video": "video",
}
# How many frames one unit spans (a pair joins frames i and i+1; a triplet is the odd frame
# 2k+1 interpolated from frames 2k and 2k+2).
FRAMES_PER_UNIT: dict[str, int] = {"frame": 1, "pair": 2, "triplet": 3}


class MetricUnavailableError(RuntimeError):
    """A metric cannot run here (a package or a parameter file is missing); says which and why."""


@dataclass
class MetricResult:
    """What one metric measured on one video.

    Attributes:
        values: per-unit values, shape (N,), float64; empty for per-video metrics.
        index: the index of each unit, shape (N,): frame t, pair i (frames i, i+1),
            triplet k (odd frame 2k+1 between 2k and 2k+2) or window w.
        index_kind: "frame" | "pair" | "triplet" | "window" | "video".
        score: the video score (the paper's number for this video).
        details: small JSON-able facts about how the score was formed (e.g. a threshold).
    """

    values: np.ndarray
    index: np.ndarray
    index_kind: str
    score: float
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64).reshape(-1)
        self.index = np.asarray(self.index, dtype=np.int64).reshape(-1)
        if self.values.shape != self.index.shape:
            raise ValueError(
                f"MetricResult: values {self.values.shape} and index {self.index.shape} must match"
            )
        if self.index_kind not in INDEX_KIND.values():
            raise ValueError(f"MetricResult: index_kind {self.index_kind!r} not in {sorted(INDEX_KIND.values())}")
        self.score = float(self.score)


class Metric:
    """Base class of every metric backend.

    Subclasses set the class attributes and implement `measure`. Register them with
    `@metrics.registry.register` so the CLI and `metrics.evaluate` can find them.

    Class attributes:
        name: the quality measured ("clarity", "aesthetic", "motion", "dynamic", "semantic",
            "anatomy", "identity", or a named variant such as "clarity_piqe").
        backend: "paper" (the paper's learned network, local weights), "classical" (no learned
            weights) or "lab" (validated on the lab world).
        direction: "higher" or "lower" is better, or "neutral" (no better direction; tables
            show the score unranked and rank only its drift).
        granularity: the unit of the stored values.
        version: bump when the numbers a metric produces change; part of the cache key.
        min_frames: fewest frames the metric accepts.
        description: one line for `fpbench metrics --list`.
    """

    name: ClassVar[str] = ""
    backend: ClassVar[Backend] = "classical"
    direction: ClassVar[Direction] = "higher"
    granularity: ClassVar[Granularity] = "per_frame"
    version: ClassVar[str] = "1"
    min_frames: ClassVar[int] = 1
    description: ClassVar[str] = ""
    # Whether a long video can be measured chunk by chunk (`metrics.streaming`), and which `details`
    # are counts to add up over the chunks.
    streamable: ClassVar[bool] = False
    summed_details: ClassVar[tuple[str, ...]] = ()

    def __init__(self, weights_dir: str | None = None) -> None:
        """Args:
            weights_dir: a folder searched first for weight / parameter files (see `metrics.weights`).
        """
        self.weights_dir = weights_dir

    @property
    def cache_version(self) -> str:
        """The version string stored with results; subclasses add their options to it."""
        return self.version

    def available(self) -> tuple[bool, str]:
        """Whether this metric can run here and now, and if not, why (names the missing piece)."""
        return True, ""

    def measure(self, frames: np.ndarray, prompt: str, reference: np.ndarray | None, fps: float) -> MetricResult:
        raise NotImplementedError

    def __call__(
        self,
        frames: np.ndarray,
        prompt: str = "",
        reference: np.ndarray | None = None,
        fps: float | None = None,
    ) -> MetricResult:
        """Measure one video.

        Args:
            frames: uint8 array (T, H, W, 3), RGB.
            prompt: the video's text prompt ("" if none; prompt-based metrics then refuse).
            reference: optional uint8 (H, W, 3) reference image (e.g. the image-to-video start frame).
            fps: the video's frame rate (None: the lab world's nominal 16 fps); the motion
                metrics sample and threshold by it, as VBench does.

        Returns:
            A `MetricResult`.
        """
        frames = check_frames(frames, self.min_frames, f"{self.name}[{self.backend}]")
        if fps is not None and not fps > 0:
            raise ValueError(f"{self.name}[{self.backend}]: fps must be > 0, got {fps}")
        if self.backend == "lab":
            frames, reference = at_analysis_size(frames, reference, LAB_ANALYSIS_SIZE)
        return self.measure(frames, prompt, reference, float(fps or DEFAULT_FPS))

    def stream(self, chunks, prompt: str = "", reference: np.ndarray | None = None,
               fps: float | None = None) -> MetricResult:
        """Measure a video given as overlapping chunks (`metrics.streaming`); equals `__call__` on the
        whole video for a `streamable` metric: each chunk's per-unit values are joined and the score
        recomputed from all of them."""
        fps = float(fps or DEFAULT_FPS)
        if not self.streamable:
            raise ValueError(f"{self.name}[{self.backend}] cannot be measured chunk by chunk")
        values, index, details = [], [], {}
        shape = None
        for first, frames, last in chunks:
            shape = frames.shape[1:3]
            if self.granularity == "per_frame":
                frames = frames if last else frames[:-1]
                offset = first
            elif self.granularity == "per_triplet":
                offset = first // 2
            elif self.granularity == "per_pair":
                offset = first // frame_stride(fps)
            else:
                raise ValueError(f"{self.name}[{self.backend}]: {self.granularity} values cannot be streamed")
            if len(frames) < self.min_frames or (self.granularity == "per_pair"
                                                   and len(frames[::frame_stride(fps)]) < 2):
                continue  # a tail too short to hold a unit (its frames were measured in the chunk before)
            result = self(frames, prompt, reference, fps)
            values.append(result.values)
            index.append(result.index + offset)
            for key, value in result.details.items():
                details[key] = details.get(key, 0) + value if key in self.summed_details else value
        if not values:
            raise ValueError(f"{self.name}[{self.backend}]: the video is too short to measure")
        joined = np.concatenate(values)
        score, own = self.streamed_score(joined, *shape, fps)
        kind = {"per_frame": "frame", "per_triplet": "triplet", "per_pair": "pair"}[self.granularity]
        return MetricResult(joined, np.concatenate(index), kind, score, {**details, **own})

    def streamed_score(self, values: np.ndarray, height: int, width: int, fps: float) -> tuple[float, dict]:
        """The video score (and details) from all per-unit values of a streamed video: their mean."""
        return float(values.mean()), {}


def at_analysis_size(frames: np.ndarray, reference: np.ndarray | None, size: int
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """Frames (and the reference image) resized to size×size (area averaging when shrinking);
    unchanged when they already are that size."""
    import cv2

    def resize(image: np.ndarray) -> np.ndarray:
        if image.shape[:2] == (size, size):
            return image
        shrink = image.shape[0] >= size and image.shape[1] >= size
        return cv2.resize(np.ascontiguousarray(image), (size, size),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    if frames.shape[1:3] != (size, size):
        frames = np.stack([resize(frame) for frame in frames])
    if reference is not None:
        reference = resize(np.asarray(reference, dtype=np.uint8))
    return frames, reference


def check_frames(frames: np.ndarray, min_frames: int, who: str) -> np.ndarray:
    """Validate a video array at the boundary: uint8 (T, H, W, 3) with at least `min_frames` frames."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{who}: expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[0] < min_frames:
        raise ValueError(f"{who}: needs at least {min_frames} frames, got {frames.shape[0]}")
    return frames


def per_frame_result(values: np.ndarray, score: float | None = None, **details) -> MetricResult:
    """A per-frame result whose score is the mean of the values unless given."""
    values = np.asarray(values, dtype=np.float64)
    return MetricResult(values, np.arange(len(values)), "frame",
                        float(values.mean()) if score is None else score, details)
