"""Set-level metrics: they compare a SET of videos with a set of real videos, never one video.

A distance between distributions (Fréchet distance, FVD) has no per-video value, so a set
metric does not fit `Metric.__call__(video)`. It gets every generated video of one table row
(one grid length), the reference set of real videos (the same start frames, the same length)
and a second, disjoint real set for the real-vs-real floor, and returns one curve over
windows of the video plus start / end / contrast values, each beside its floor.

Result shape (`SET_RESULT_COLUMNS`), one row per window and per summary value:
    set       str    the set's name (a table row, e.g. a schedule)
    metric    str    metric name
    backend   str    lab | paper
    version   str    the metric's cache version
    kind      str    "window" (curve) | "start" | "end" (the first / last 15 % of every video) |
                     "contrast" (|end − start|, the set-level start–end drift)
    index     int    window index (-1 for start / end / contrast)
    position  float  window centre as a fraction of the video (0 start, 0.5 contrast, 1 end)
    value     float  the distance of the generated set to the reference set
    floor     float  the same distance between the two real sets (what a perfect generator scores)
    videos    int    generated videos in the set
    error     str    "" when measured; else why not (value NaN)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from metrics.metric import Backend, Direction

SET_RESULT_COLUMNS = ["set", "metric", "backend", "version", "kind", "index", "position", "value", "floor",
                      "videos", "error"]
SET_GRANULARITY = "per_set"


class SetMetric:
    """Base class of set-level metric backends; register with `metrics.registry.register_set`.

    Class attributes as `Metric`'s (name, backend, direction, version, description); the
    granularity is always "per_set". Subclasses implement `measure_sets`.
    """

    name: ClassVar[str] = ""
    backend: ClassVar[Backend] = "lab"
    direction: ClassVar[Direction] = "lower"
    granularity: ClassVar[str] = SET_GRANULARITY
    version: ClassVar[str] = "1"
    min_frames: ClassVar[int] = 2
    description: ClassVar[str] = ""

    def __init__(self, weights_dir: str | None = None, cache: str | None = None) -> None:
        """Args:
            weights_dir: a folder searched first for weight files (see `metrics.weights`).
            cache: a folder where per-video features are cached by content (None: no cache).
        """
        self.weights_dir = weights_dir
        self.cache = cache

    @property
    def cache_version(self) -> str:
        return self.version

    def available(self) -> tuple[bool, str]:
        """Whether this metric can run here and now, and if not, why (names the missing piece)."""
        return True, ""

    def measure_sets(self, name: str, generated: list[np.ndarray], reference: list[np.ndarray],
                     floor_reference: list[np.ndarray], n_windows: int = 6) -> pd.DataFrame:
        """Tidy `SET_RESULT_COLUMNS` rows for one set (see the module docstring)."""
        raise NotImplementedError


def set_error_rows(name: str, metric: SetMetric, error: str) -> pd.DataFrame:
    """One row saying that `metric` could not be measured on set `name`, and why."""
    return pd.DataFrame([{"set": name, "metric": metric.name, "backend": metric.backend,
                          "version": metric.cache_version, "kind": "error", "index": -1, "position": np.nan,
                          "value": np.nan, "floor": np.nan, "videos": 0, "error": error}],
                        columns=SET_RESULT_COLUMNS)
