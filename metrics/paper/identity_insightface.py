"""Identity, paper backend: insightface `FaceAnalysis` (RetinaFace/SCRFD detection + ArcFace), local .onnx files.

Each frame's face (the highest-scoring detection) is embedded by ArcFace; the value is the cosine
of its `normed_embedding` with the first detected face's (higher is better). The model folder is
given to FaceAnalysis as a path, so insightface never tries to download a model pack.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from metrics.identity_common import FaceEmbeddingIdentity, identity_result
from metrics.metric import Metric, MetricResult, MetricUnavailableError
from metrics.registry import register
from metrics.weights import MissingWeightsError, WeightsResolver


@functools.lru_cache(maxsize=1)
def load_face_analysis(model_dir: str, det_size: int, det_thresh: float):
    """FaceAnalysis with only detection and recognition, on the CPU, from a local model folder."""
    if importlib.util.find_spec("insightface") is None:
        raise MetricUnavailableError("identity[paper]: insightface is not installed (make setup installs it)")
    from insightface.app import FaceAnalysis

    app = FaceAnalysis(name=model_dir, allowed_modules=["detection", "recognition"],
                       providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=(det_size, det_size), det_thresh=det_thresh)
    return app


@register
class IdentityArcFace(FaceEmbeddingIdentity, Metric):
    name = "identity"
    backend = "paper"
    granularity = "per_frame"
    min_frames = 2
    version = "1"
    description = "insightface FaceAnalysis (buffalo_l) ArcFace cosine to the first face"

    def __init__(self, weights_dir: str | None = None, det_size: int = 640, det_thresh: float = 0.5) -> None:
        super().__init__(weights_dir)
        self.det_size = det_size
        self.det_thresh = det_thresh

    @property
    def cache_version(self) -> str:
        return f"{self.version}+det{self.det_size}+thr{self.det_thresh}"

    def model_dir(self) -> str:
        """The folder holding both det_10g.onnx and w600k_r50.onnx."""
        resolver = WeightsResolver(self.weights_dir)
        detector = resolver.require("insightface_det")
        recogniser = resolver.require("insightface_rec")
        if detector.parent != recogniser.parent:
            raise MissingWeightsError(
                f"identity[paper]: {detector.name} and {recogniser.name} must be in one folder "
                f"(found {detector.parent} and {recogniser.parent})")
        return str(detector.parent)

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("insightface") is None:
            return False, "insightface is not installed (make setup installs it)"
        try:
            self.model_dir()
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def score_embeddings(self, embeddings: list[np.ndarray | None]) -> MetricResult:
        return identity_result(embeddings, lambda a, b: float(np.dot(a, b)), "identity[paper]")

    def embeddings(self, frames: np.ndarray) -> list[np.ndarray | None]:
        """Each frame's best face embedding (None without a face). One image per call: insightface's
        API takes no batches."""
        app = load_face_analysis(self.model_dir(), self.det_size, self.det_thresh)
        embeddings: list[np.ndarray | None] = []
        for frame in frames:
            faces = app.get(np.ascontiguousarray(frame[:, :, ::-1]))  # insightface expects BGR
            if not faces:
                embeddings.append(None)
                continue
            best = max(faces, key=lambda face: float(face.det_score))
            embeddings.append(np.asarray(best.normed_embedding, dtype=np.float64))
        return embeddings
