"""Reference-based drift: the distance of generated video to real video at each horizon (set-level).

A video can keep its per-frame quality and still leave the distribution of real video; long-video
work (DFoT and others) therefore reports FVD as the video grows. Here every video is split into
W windows by position (window w covers frames [w·T/W, (w+1)·T/W)); the features of the
generated set's window w are compared with the features of the reference set's window w — real
clips from the same start frames, at the same horizon — by the Fréchet distance

    FD(A, B) = ‖μ_A − μ_B‖² + tr(Σ_A + Σ_B − 2 (Σ_A Σ_B)^{1/2}).

The curve over windows shows where the set leaves real video; the start / end values compare
the first and last 15 % of every video (as the paper's start–end contrast) and "contrast" is
|end − start|. Beside each value the floor: the same distance between two disjoint real sets
from the same start frames, which is what a generator that samples real video would score at
that sample size (Fréchet distances of finite sets are biased upwards).

Backends differ in the features: `reference_distance[lab]` uses the lab perceptor's reading of
each frame (metrics/lab/reference_features.py), `reference_distance[paper]` is FVD, I3D features
of a 16-frame clip per window (metrics/paper/fvd.py).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.metric import check_frames
from metrics.set_metric import SET_RESULT_COLUMNS, SetMetric

START_END_FRACTION = 0.15


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (N, D) and b (M, D), N, M >= 2.

    The matrix square root is taken with scipy; a singular product (fewer samples than
    dimensions) gets 1e-6 added to both diagonals first, as in the FID reference code.
    """
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (N, D) and (M, D), got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 samples per set, got {len(a)} and {len(b)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # Fewer samples than dimensions (FVD of small sets) makes the product singular by design.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))
    return max(value, 0.0)


def window_ranges(num_frames: int, n_windows: int) -> list[tuple[int, int]]:
    """[first, end) frame ranges of `n_windows` contiguous near-equal windows (fewer if too few frames)."""
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}")
    edges = np.linspace(0, num_frames, min(n_windows, num_frames) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def start_end_ranges(num_frames: int, fraction: float = START_END_FRACTION) -> list[tuple[int, int]]:
    """The first and the last ceil(fraction · T) frames (at least 1)."""
    size = max(1, math.ceil(fraction * num_frames - 1e-9))
    return [(0, size), (num_frames - size, num_frames)]


class ReferenceDistance(SetMetric):
    """Base of the reference-distance backends: windows, features (cached by content), Fréchet distances.

    Subclasses implement `range_features(frames, ranges)`: one (k, D) feature array per frame range.
    """

    name = "reference_distance"
    direction = "lower"

    def __init__(self, weights_dir: str | None = None, cache: str | None = None) -> None:
        super().__init__(weights_dir, cache)
        self._memo: dict[str, list[np.ndarray]] = {}  # features by content, for this instance's lifetime

    def range_features(self, frames: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        raise NotImplementedError

    def _cached_features(self, frames: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        digest = hashlib.sha256(np.ascontiguousarray(frames).tobytes())
        digest.update(f"{frames.shape}|{ranges}|{self.name}|{self.backend}|{self.cache_version}".encode())
        key = digest.hexdigest()
        # The reference and floor sets are the same for every row of a table: keep their features.
        if key not in self._memo:
            self._memo[key] = self._stored_features(key, frames, ranges)
        return self._memo[key]

    def _stored_features(self, key: str, frames: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        if self.cache is None:
            return self.range_features(frames, ranges)
        path = Path(self.cache) / "set_features" / f"{key}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return [stored[f"r{i}"] for i in range(len(ranges))]
            except (OSError, ValueError, KeyError):
                pass  # a corrupt entry is recomputed
        features = self.range_features(frames, ranges)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        try:
            np.savez(tmp, **{f"r{i}": f for i, f in enumerate(features)})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return features

    def _pooled(self, videos: list[np.ndarray], n_windows: int) -> list[np.ndarray]:
        """Per range (the W windows, then start, then end): the features of every video, stacked."""
        pooled: list[list[np.ndarray]] | None = None
        for frames in videos:
            ranges = window_ranges(len(frames), n_windows) + start_end_ranges(len(frames))
            if len(ranges) != n_windows + 2:
                raise ValueError(f"{self.name}[{self.backend}]: a video of {len(frames)} frames has fewer than "
                                 f"{n_windows} windows; use fewer windows or longer videos")
            features = self._cached_features(frames, ranges)
            pooled = [[f] for f in features] if pooled is None else [p + [f] for p, f in zip(pooled, features,
                                                                                             strict=True)]
        return [np.concatenate(parts) for parts in pooled]

    def measure_sets(self, name: str, generated: list[np.ndarray], reference: list[np.ndarray],
                     floor_reference: list[np.ndarray], n_windows: int = 6) -> pd.DataFrame:
        """Distance curve, start / end / contrast of `generated` to `reference`, each with the floor
        (`floor_reference` to `reference`). Every list holds uint8 videos (T, H, W, 3)."""
        who = f"{self.name}[{self.backend}]"
        for label, videos in (("generated", generated), ("reference", reference), ("floor", floor_reference)):
            if not videos:
                raise ValueError(f"{who}: the {label} set is empty")
            for frames in videos:
                check_frames(frames, self.min_frames, f"{who} {label} set")
        sets = {label: self._pooled(videos, n_windows)
                for label, videos in (("generated", generated), ("reference", reference), ("floor", floor_reference))}
        values = [frechet_distance(g, r) for g, r in zip(sets["generated"], sets["reference"], strict=True)]
        floors = [frechet_distance(f, r) for f, r in zip(sets["floor"], sets["reference"], strict=True)]
        rows = []
        for w in range(n_windows):
            rows.append(("window", w, (w + 0.5) / n_windows, values[w], floors[w]))
        start, end = values[n_windows], values[n_windows + 1]
        floor_start, floor_end = floors[n_windows], floors[n_windows + 1]
        rows += [("start", -1, START_END_FRACTION / 2, start, floor_start),
                 ("end", -1, 1 - START_END_FRACTION / 2, end, floor_end),
                 ("contrast", -1, 0.5, abs(end - start), abs(floor_end - floor_start))]
        table = pd.DataFrame(rows, columns=["kind", "index", "position", "value", "floor"])
        table = table.assign(set=name, metric=self.name, backend=self.backend, version=self.cache_version,
                             videos=len(generated), error="")
        return table[SET_RESULT_COLUMNS]
