"""Lab backends: clarity, aesthetic, semantic, anatomy and identity read by the lab perceptor.

The perceptor (metrics/lab/perceptor.py, trained by the suite on the lab world) is the lab
world's measuring instrument, as the pretrained networks are for the paper's metrics:

    clarity    per frame (1 − estimated degradation) × colour retention against the reference image
               (the i2v start image, else the first frame; see metrics.lab.colourfulness: the
               perceptor reads blur and noise, low-pass chroma reads colour loss); in [0, 1]
    aesthetic  per frame rendering, colour and composition fidelity: clarity × subject presence ×
               composition (1 when the subject centre is ≥ 1/8 of the frame from every edge)
    semantic   per frame agreement with the prompt's subject: mean(P(prompted colour), P(prompted shape))
               × presence; the subject is the prompt's first "<colour> <shape>" phrase
    anatomy    per frame P(structure intact) (frames without the subject count as intact)
    identity   per frame cosine of the identity embedding with the first frame showing the subject

The checkpoint's hash is part of each metric's cache version, so a retrained perceptor is
never mixed with cached values of an older one. Validity numbers: tests/test_metrics_lab.py
and the README's Metrics section.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import re
from pathlib import Path

import numpy as np

from metrics.identity_common import identity_result
from metrics.lab.colourfulness import colour_retention
from metrics.metric import Metric, MetricResult, per_frame_result
from metrics.registry import register

PRESENT = 0.5  # presence probability above which a frame shows the subject


def default_checkpoint() -> Path:
    from metrics.lab.perceptor import DEFAULT_CHECKPOINT

    return DEFAULT_CHECKPOINT


# The lab metrics all read a video through the same perceptor: the last few readings are kept
# (keyed by checkpoint and frame content), so scoring one video with k lab metrics runs it once.
PERCEPTION_CACHE_SIZE = 4
_PERCEPTIONS: collections.OrderedDict = collections.OrderedDict()


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float):
    import torch

    from metrics.lab.perceptor import LabPerceptor

    perceptor = LabPerceptor.load(path)
    perceptor.net.to(torch.float32)
    return perceptor


@functools.lru_cache(maxsize=4)
def _digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def subject_words(prompt: str, shapes: tuple[str, ...], colours: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The prompt's subject colour and shape: its first "<colour> <shape>" phrase, else the first
    colour word and the first shape word found (None where absent)."""
    words = re.findall(r"[a-z]+", prompt.lower())
    for first, second in zip(words, words[1:], strict=False):
        if first in colours and second in shapes:
            return first, second
    colour = next((w for w in words if w in colours), None)
    shape = next((w for w in words if w in shapes), None)
    return colour, shape


def colour_reference(frames: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """The image colour retention is measured against: the given reference (the image-to-video
    start image), resized to the frames' size, else the video's first frame."""
    if reference is None:
        return frames[0]
    reference = np.asarray(reference, dtype=np.uint8)
    if reference.shape != frames.shape[1:]:
        import cv2

        reference = cv2.resize(reference, (frames.shape[2], frames.shape[1]), interpolation=cv2.INTER_AREA)
    return reference


def composition(position: np.ndarray, height: int, width: int, margin: float = 0.125) -> np.ndarray:
    """1 when the subject centre is at least `margin` of the frame from every edge, falling
    linearly to 0 at the edge (a subject cut by the frame is a composition fault)."""
    x, y = position[:, 0] / width, position[:, 1] / height
    distance = np.minimum.reduce([x, 1 - x, y, 1 - y])
    return np.clip(distance / margin, 0.0, 1.0)


class PerceptorMetric(Metric):
    """Base of the lab backends: loads the perceptor checkpoint once and reads frames with it.

    Args:
        weights_dir: unused (the lab perceptor is a committed checkpoint).
        checkpoint: perceptor safetensors (default results/checkpoints/perceptor.safetensors).
    """

    backend = "lab"
    granularity = "per_frame"
    version = "3"

    def __init__(self, weights_dir: str | None = None, checkpoint: str | None = None) -> None:
        super().__init__(weights_dir)
        self.checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()

    def available(self) -> tuple[bool, str]:
        if not self.checkpoint.is_file():
            return False, (f"lab perceptor checkpoint not found: {self.checkpoint} (train it with "
                           "bench/train/configs/perceptor.yaml)")
        return True, ""

    def _mtime(self) -> float:
        if not self.checkpoint.is_file():
            from metrics.lab.perceptor import PerceptorCheckpointNotFoundError

            raise PerceptorCheckpointNotFoundError(self.available()[1])
        return self.checkpoint.stat().st_mtime

    @property
    def cache_version(self) -> str:
        if not self.checkpoint.is_file():
            return self.version
        return f"{self.version}+perceptor-{_digest(str(self.checkpoint), self._mtime())}"

    def perceptor(self):
        """The loaded `LabPerceptor`."""
        return _load(str(self.checkpoint), self._mtime())

    def perceive(self, frames: np.ndarray):
        """The perceptor's reading of `frames`, shared by every lab metric that scores the same video."""
        frames = np.ascontiguousarray(frames)
        key = (str(self.checkpoint), self._mtime(), frames.shape, str(frames.dtype),
               hashlib.blake2b(frames.data, digest_size=16).hexdigest())
        if key in _PERCEPTIONS:
            _PERCEPTIONS.move_to_end(key)
            return _PERCEPTIONS[key]
        seen = self.perceptor().perceive(frames)
        for value in vars(seen).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)  # shared between metrics: nobody may change it
        _PERCEPTIONS[key] = seen
        while len(_PERCEPTIONS) > PERCEPTION_CACHE_SIZE:
            _PERCEPTIONS.popitem(last=False)
        return seen


@register
class LabClarity(PerceptorMetric):
    name = "clarity"
    description = "lab: (1 - perceptor's degradation estimate) x colour retention vs the start frame, per frame"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        quality = 1.0 - self.perceive(frames).degradation.astype(np.float64)
        return per_frame_result(quality * colour_retention(frames, colour_reference(frames, reference)))


@register
class LabAesthetic(PerceptorMetric):
    name = "aesthetic"
    description = "lab: clarity x presence x composition (subject inside the frame), per frame"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        seen = self.perceive(frames)
        height, width = frames.shape[1:3]
        quality = (1.0 - seen.degradation) * colour_retention(frames, colour_reference(frames, reference))
        return per_frame_result(quality * seen.present * composition(seen.position, height, width))


@register
class LabSemantic(PerceptorMetric):
    name = "semantic"
    description = "lab: P(prompted colour) and P(prompted shape) of the subject, x presence, per frame"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        config = self.perceptor().config
        colour, shape = subject_words(prompt, tuple(config.shapes), tuple(config.colours))
        if colour is None and shape is None:
            raise ValueError(f"semantic[lab]: the prompt names no lab colour or shape: {prompt!r}")
        seen = self.perceive(frames)
        parts = []
        if colour is not None:
            parts.append(seen.colour_probs[:, config.colours.index(colour)])
        if shape is not None:
            parts.append(seen.shape_probs[:, config.shapes.index(shape)])
        return per_frame_result(np.mean(parts, axis=0) * seen.present, colour=colour, shape=shape)


@register
class LabAnatomy(PerceptorMetric):
    name = "anatomy"
    description = "lab: perceptor's P(structure intact) per frame (no subject counts as intact)"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        seen = self.perceive(frames)
        intact = np.where(seen.present > PRESENT, seen.structure_intact, 1.0)
        return per_frame_result(intact, frames_with_subject=int((seen.present > PRESENT).sum()))


@register
class LabIdentity(PerceptorMetric):
    name = "identity"
    min_frames = 2
    description = "lab: cosine of the perceptor's identity embedding to the first frame with the subject"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        seen = self.perceive(frames)
        embeddings = [e.astype(np.float64) if p > PRESENT else None
                      for e, p in zip(seen.identity, seen.present, strict=True)]
        return identity_result(embeddings, lambda a, b: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))),
                               "identity[lab]")
