"""On-disk cache of metric results keyed by (video content hash, metric, backend, version).

Re-scoring a grid computes only the (video, metric) pairs whose content or metric version
changed. Each entry is one small JSON file written atomically; a corrupt entry is treated as a
miss and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from metrics.metric import MetricResult


def content_hash(frames: np.ndarray, prompt: str = "", reference: np.ndarray | None = None,
                 fps: float | None = None) -> str:
    """SHA-256 of everything a metric sees: frame bytes and shape, prompt, reference image, fps."""
    digest = hashlib.sha256()
    frames = np.ascontiguousarray(frames)
    digest.update(f"{frames.dtype}{frames.shape}".encode())
    digest.update(frames.tobytes())
    digest.update(b"\0prompt\0" + prompt.encode())
    if reference is not None:
        reference = np.ascontiguousarray(reference)
        digest.update(f"\0ref{reference.shape}".encode() + reference.tobytes())
    digest.update(f"\0fps{fps}".encode())
    return digest.hexdigest()


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


class MetricCache:
    """A folder of cached `MetricResult`s.

    Args:
        root: the cache folder (created on first write).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, video_hash: str, metric: str, backend: str, version: str) -> Path:
        """Where the entry for this key lives."""
        return self.root / video_hash[:2] / f"{video_hash}__{_safe(metric)}__{_safe(backend)}__{_safe(version)}.json"

    def get(self, video_hash: str, metric: str, backend: str, version: str) -> MetricResult | None:
        """The cached result, or None (also for an unreadable entry)."""
        path = self.path(video_hash, metric, backend, version)
        try:
            data = json.loads(path.read_text())
            result = MetricResult(np.asarray(data["values"], dtype=np.float64), np.asarray(data["index"]),
                                  data["index_kind"], data["score"], data.get("details", {}))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return result

    def put(self, video_hash: str, metric: str, backend: str, version: str, result: MetricResult) -> None:
        """Store a result atomically (temp file in the same folder, then rename)."""
        path = self.path(video_hash, metric, backend, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"values": result.values.tolist(), "index": result.index.tolist(),
                   "index_kind": result.index_kind, "score": result.score, "details": result.details}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle, default=float)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
