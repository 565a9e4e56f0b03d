"""i2v_subject / i2v_background, lab backends: fidelity to the input image read on the lab world.

Same score as VBench-I2V (`metrics.i2v_score`, the same weights); only the embeddings differ:

    i2v_subject     the perceptor's reading of the subject: its identity embedding (64 numbers,
                    unit length) joined with its shape and colour probabilities (unit length each,
                    so identity, shape and colour weigh alike), times P(present); a frame without
                    the subject embeds as zeros and is 0-similar to everything.
    i2v_background  the frame with the subject cut out: mean colours of a 16 × 16 grid of blocks
                    over the pixels outside a disc of 18 px (at 64 × 64; the subject's radius is at
                    most 13 px) around the perceptor's subject position in either image. The
                    similarity of two frames is 1 − the mean absolute colour difference (in [0, 1])
                    over blocks both show background in; no learned weights.
"""

from __future__ import annotations

import numpy as np

from metrics.i2v_score import (
    BACKGROUND_WEIGHTS,
    SUBJECT_WEIGHTS,
    cosine_i2v_result,
    i2v_result,
    require_input_image,
)
from metrics.lab.perceptor_metrics import PRESENT, PerceptorMetric
from metrics.metric import MetricResult
from metrics.registry import register

SUBJECT_DISC = 18.0  # px at 64 × 64
BLOCKS = 16


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def background_blocks(frames: np.ndarray, positions: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (BLOCKS, BLOCKS, 3) mean colours in [0, 1] over pixels outside the subject disc, and a
    (BLOCKS, BLOCKS) mask of blocks with at least one such pixel (area averages of colour × mask over mask)."""
    import cv2

    count, height, width = frames.shape[:3]
    radius = SUBJECT_DISC * min(height, width) / 64.0
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    colours = np.zeros((count, BLOCKS, BLOCKS, 3))
    valid = np.zeros((count, BLOCKS, BLOCKS), bool)
    for t in range(count):
        keep = np.ones((height, width), np.float32)
        if present[t] > PRESENT:
            keep = ((xs - positions[t, 0]) ** 2 + (ys - positions[t, 1]) ** 2 > radius ** 2).astype(np.float32)
        image = frames[t].astype(np.float32) / 255.0
        weight = cv2.resize(keep, (BLOCKS, BLOCKS), interpolation=cv2.INTER_AREA)
        total = cv2.resize(image * keep[..., None], (BLOCKS, BLOCKS), interpolation=cv2.INTER_AREA)
        valid[t] = weight > 1e-6
        colours[t][valid[t]] = total[valid[t]] / weight[valid[t], None]
    return colours, valid


def background_similarity(a: np.ndarray, valid_a: np.ndarray, b: np.ndarray, valid_b: np.ndarray) -> float:
    """1 − mean |a − b| over the blocks both show background in (1 when none do: nothing to compare)."""
    both = valid_a & valid_b
    if not both.any():
        return 1.0
    return float(1.0 - np.abs(a[both] - b[both]).mean())


@register
class LabI2VSubject(PerceptorMetric):
    name = "i2v_subject"
    version = "1"
    min_frames = 2
    description = "lab: VBench-I2V subject score on the perceptor's identity/shape/colour reading vs the input image"

    def embeddings(self, frames: np.ndarray) -> np.ndarray:
        seen = self.perceive(frames)
        parts = np.concatenate([_unit(seen.identity.astype(np.float64)), _unit(seen.shape_probs.astype(np.float64)),
                                _unit(seen.colour_probs.astype(np.float64))], axis=1)
        return parts * seen.present[:, None]

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        image = require_input_image(reference, "i2v_subject[lab]")
        return cosine_i2v_result(self.embeddings(frames), self.embeddings(image[None])[0], SUBJECT_WEIGHTS)


@register
class LabI2VBackground(PerceptorMetric):
    name = "i2v_background"
    version = "1"
    min_frames = 2
    description = "lab: VBench-I2V background score on block colours outside the subject vs the input image"

    def blocks(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen = self.perceive(frames)
        return background_blocks(frames, seen.position, seen.present)

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        image = require_input_image(reference, "i2v_background[lab]")
        colours, valid = self.blocks(frames)
        image_colours, image_valid = self.blocks(image[None])
        to_input = [background_similarity(colours[t], valid[t] & image_valid[0], image_colours[0], image_valid[0])
                    for t in range(len(frames))]
        consecutive = [background_similarity(colours[t], valid[t], colours[t - 1], valid[t - 1])
                       for t in range(1, len(frames))]
        return i2v_result(np.array(to_input), np.array(consecutive), BACKGROUND_WEIGHTS)
