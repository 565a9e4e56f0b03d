"""VBench-I2V's image-to-video fidelity score, shared by the paper and lab backends.

For a video's frame embeddings f_1 … f_T and the input image's embedding f_in (each compared by
cosine similarity, negative similarities clipped to 0):

    conformity_t = max(0, cos(f_in, f_t))          t = 1 … T   (the stored per-frame values)
    consecutive_t = max(0, cos(f_{t−1}, f_t))      t = 2 … T
    score = w_max · max_t conformity_t + w_mean · mean_t consecutive_t + w_min · min_t consecutive_t

with (w_max, w_mean, w_min) = (0.5, 0.5, 0.0) for i2v_subject and (0.4, 0.3, 0.3) for
i2v_background (Vchitect/VBench, vbench2_beta_i2v/i2v_subject.py and i2v_background.py).
"""

from __future__ import annotations

import numpy as np

from metrics.metric import MetricResult, per_frame_result

SUBJECT_WEIGHTS = (0.5, 0.5, 0.0)
BACKGROUND_WEIGHTS = (0.4, 0.3, 0.3)


def i2v_result(similarity_to_input: np.ndarray, similarity_consecutive: np.ndarray,
               weights: tuple[float, float, float]) -> MetricResult:
    """Per-frame conformity values and the VBench-I2V score from raw similarities.

    Args:
        similarity_to_input: (T,) similarity of each frame to the input image.
        similarity_consecutive: (T − 1,) similarity of each frame to the one before.
        weights: (w_max, w_mean, w_min).
    """
    conformity = np.maximum(0.0, np.asarray(similarity_to_input, dtype=np.float64))
    consecutive = np.maximum(0.0, np.asarray(similarity_consecutive, dtype=np.float64))
    if len(consecutive) < 1:
        raise ValueError("image-to-video fidelity needs at least 2 frames")
    w_max, w_mean, w_min = weights
    score = w_max * conformity.max() + w_mean * consecutive.mean() + w_min * consecutive.min()
    return per_frame_result(conformity, score=float(score), weights=list(weights))


def cosine_i2v_result(frame_embeddings: np.ndarray, input_embedding: np.ndarray,
                      weights: tuple[float, float, float]) -> MetricResult:
    """`i2v_result` from embeddings (T, D) and (D,), compared by cosine similarity."""
    frames = np.asarray(frame_embeddings, dtype=np.float64)
    image = np.asarray(input_embedding, dtype=np.float64).reshape(-1)
    frames = frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-12)
    image = image / max(float(np.linalg.norm(image)), 1e-12)
    return i2v_result(frames @ image, np.sum(frames[1:] * frames[:-1], axis=1), weights)


def require_input_image(reference: np.ndarray | None, who: str) -> np.ndarray:
    """The image-to-video input image, validated; ValueError when there is none (a text-to-video video)."""
    if reference is None:
        raise ValueError(f"{who}: needs the image-to-video input image (the start image); this video has none")
    reference = np.asarray(reference)
    if reference.dtype != np.uint8 or reference.ndim != 3 or reference.shape[-1] != 3:
        raise ValueError(f"{who}: expected a uint8 (H, W, 3) input image, got {reference.dtype} {reference.shape}")
    return reference
