"""Identity scoring shared by the face backends: similarity of each frame's face to the first face."""

from __future__ import annotations

import numpy as np

from metrics.metric import MetricResult, check_frames


def identity_result(embeddings: list[np.ndarray | None], similarity, who: str, **details) -> MetricResult:
    """Per-frame similarity of each detected face to the first detected face.

    Args:
        embeddings: one embedding per frame, None where no face was found.
        similarity: f(reference, embedding) -> float.
        who: metric label for the error message.

    Returns:
        A per-frame result over the frames with a face (the first of them is the reference and is
        not scored); score = mean similarity. Frames without a face are counted in `details`.

    Raises:
        ValueError when fewer than 2 frames have a face (nothing to compare).
    """
    found = [(t, e) for t, e in enumerate(embeddings) if e is not None]
    if len(found) < 2:
        raise ValueError(f"{who}: a face was found in {len(found)} of {len(embeddings)} frames; "
                         "identity needs a face in at least 2 frames")
    (_, reference), rest = found[0], found[1:]
    values = np.asarray([similarity(reference, e) for _, e in rest], dtype=np.float64)
    index = np.asarray([t for t, _ in rest])
    return MetricResult(values, index, "frame", float(values.mean()),
                        {"reference_frame": found[0][0], "frames_without_face": len(embeddings) - len(found),
                         **details})


class FaceEmbeddingIdentity:
    """Mixin of the identity backends that embed each frame's face (`embeddings`) and score the list
    (`score_embeddings`): `measure` on a whole video, `stream` chunk by chunk keeping only the
    embeddings (`metrics.streaming`), so a long video never sits whole in memory."""

    streamable = True

    def embeddings(self, frames: np.ndarray) -> list[np.ndarray | None]:
        raise NotImplementedError

    def score_embeddings(self, embeddings: list[np.ndarray | None]) -> MetricResult:
        raise NotImplementedError

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        return self.score_embeddings(self.embeddings(frames))

    def stream(self, chunks, prompt="", reference=None, fps=None) -> MetricResult:
        embeddings: list[np.ndarray | None] = []
        for _, frames, last in chunks:  # consecutive chunks share a frame: embed it once
            embeddings += self.embeddings(check_frames(frames if last else frames[:-1], 1, f"{self.name}[{self.backend}]"))
        return self.score_embeddings(embeddings)
