"""Metric providers: what measures a run's frames and turns stored values into drift.

The harness never computes a metric itself. A provider wraps a metric registry; the
default, "metrics", wraps the `metrics` package (its registry, backends and drift
functions; `bench.grid.registry` registers it). Tests and plugins may register their own provider.

Values travel in the `metrics` package's tidy result shape (`VALUE_COLUMNS`, the same as
`metrics.RESULT_COLUMNS`): one row per measured unit, `kind` "frame" | "pair" | "triplet" |
"window", plus one row of kind "video" (index -1) holding the video score. In the run
store, the `video` column holds the run key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from bench.grid.errors import GridError

VALUE_COLUMNS = ("video", "metric", "backend", "version", "kind", "index", "value", "error")


@dataclass(frozen=True)
class MetricInfo:
    """What a table needs to know about a metric."""

    name: str
    direction: str  # "higher" or "lower" is better
    granularity: str
    backend: str
    version: str


class MetricUnavailable(FileNotFoundError):
    """A metric that cannot run here (e.g. missing weights). The run records it as missing."""


class MetricProvider(Protocol):
    def check(self, names: Sequence[str], backend: str) -> None:
        """Raise GridError naming `metrics.names[i]` / `metrics.backend` for unknown ones."""

    def info(self, name: str, backend: str) -> MetricInfo:
        """Direction, granularity, the backend chosen and the version stored with its values."""

    def unavailable(self, names: Sequence[str], backend: str) -> dict[str, str]:
        """Metrics that cannot run here, with the reason (e.g. the missing weights file)."""

    def score(self, frames: np.ndarray, prompt: str, name: str, backend: str,
              reference: np.ndarray | None = None, fps: float | None = None) -> pd.DataFrame:
        """Measure one metric on uint8 frames (T, H, W, 3); tidy rows of VALUE_COLUMNS.
        `reference` is the start image (H, W, 3) or None. Raises MetricUnavailable when
        the metric cannot run here."""

    def drift(self, values: pd.DataFrame) -> pd.DataFrame:
        """Start–end contrast from stored values of any number of videos (the `video` column):
        columns video, metric, drift (one row per video and metric with >= 2 units)."""

    def curves(self, values: pd.DataFrame, windows: int) -> pd.DataFrame:
        """Per-window curves from one video's stored values: columns metric, window, value."""

    def vde(self, values: pd.DataFrame, chunks: int, weighting: str) -> pd.DataFrame:
        """VDE (see metrics.drift) from stored values of any number of videos: columns video, metric,
        vde (NaN where undefined; one row per video and metric with >= 2 units)."""


def check_value_frame(values: pd.DataFrame, name: str) -> pd.DataFrame:
    """Normalise a provider's result for metric `name` to VALUE_COLUMNS, refusing NaN values."""
    values = values.copy()
    if "error" not in values.columns:
        values["error"] = ""
    if "video" not in values.columns:
        values["video"] = ""
    missing = [c for c in VALUE_COLUMNS if c not in values.columns]
    if missing:
        raise ValueError(f"metric {name!r} returned values without columns {missing}")
    values = values.loc[:, list(VALUE_COLUMNS)]
    if values["value"].isna().any():
        raise ValueError(f"metric {name!r} returned NaN values; a metric that cannot measure must raise")
    if not (values["kind"] == "video").any():
        raise ValueError(f"metric {name!r} returned no video score")
    values["index"] = values["index"].astype("int64")
    values["value"] = values["value"].astype("float64")
    return values


def backend_preference(backend: str) -> list[str]:
    """"lab" -> ["lab"]; "lab,classical" -> ["lab", "classical"] (first that a metric has wins)."""
    return [part.strip() for part in backend.split(",") if part.strip()]


class PackageMetricProvider:
    """The default provider: the `metrics` package's registry, backends and drift.

    Metric instances are kept, so paper networks load once per worker process.
    """

    def __init__(self) -> None:
        self._evaluators: dict[tuple[str, str], object] = {}

    def _resolve(self, name: str, backend: str) -> tuple[str, str]:
        from metrics.evaluate import resolve_backends

        return resolve_backends([name], backend_preference(backend))[0]

    def check(self, names: Sequence[str], backend: str) -> None:
        from metrics.evaluate import resolve_backends

        preference = backend_preference(backend)
        if not preference:
            raise GridError("metrics.backend", f"expected a backend (lab, classical, paper), got {backend!r}")
        for candidate in preference:
            if candidate not in ("paper", "classical", "lab"):
                raise GridError("metrics.backend", f"unknown backend {candidate!r}; expected lab, classical or paper")
        for i, name in enumerate(names):
            try:
                resolve_backends([name], preference)
            except ValueError as error:
                raise GridError(f"metrics.names[{i}]", str(error)) from None

    def info(self, name: str, backend: str) -> MetricInfo:
        """`version` is the one stored with the values (`Metric.cache_version`: the metric's
        version with its options, e.g. the lab perceptor checkpoint's hash)."""
        name, chosen = self._resolve(name, backend)
        metric = self._evaluator(name, backend).metrics[0]
        return MetricInfo(name, metric.direction, metric.granularity, chosen, str(metric.cache_version))

    def _evaluator(self, name: str, backend: str):
        from metrics.evaluate import Evaluator

        key = (name, backend)
        if key not in self._evaluators:
            self._evaluators[key] = Evaluator([name], backend_preference(backend), cache=None, on_error="record")
        return self._evaluators[key]

    def unavailable(self, names: Sequence[str], backend: str) -> dict[str, str]:
        reasons = {}
        for name in names:
            for metric in self._evaluator(name, backend).metrics:
                ok, reason = metric.available()
                if not ok:
                    reasons[name] = reason
        return reasons

    def score(self, frames, prompt, name, backend, reference=None, fps=None) -> pd.DataFrame:
        values = self._evaluator(name, backend).evaluate(frames, prompt, reference=reference, fps=fps)
        errors = values[values["kind"] == "error"]
        if len(errors):
            raise MetricUnavailable(f"{name}: {errors['error'].iloc[0]}")
        return values

    def drift(self, values: pd.DataFrame) -> pd.DataFrame:
        from metrics.drift import start_end_contrast

        units = values[values["kind"].isin(("frame", "pair", "triplet", "window"))]
        counts = units.groupby(["video", "metric"])["index"].transform("count")
        usable = units[counts >= 2]
        if usable.empty:
            return pd.DataFrame(columns=["video", "metric", "drift"])
        contrast = start_end_contrast(usable)
        return contrast.groupby(["video", "metric"], as_index=False)["delta"].mean().rename(columns={"delta": "drift"})

    def curves(self, values: pd.DataFrame, windows: int) -> pd.DataFrame:
        from metrics.drift import window_curves

        units = values[values["kind"].isin(("frame", "pair", "triplet", "window"))]
        if units.empty:
            return pd.DataFrame(columns=["metric", "window", "value"])
        curves = window_curves(units, windows)
        return curves.groupby(["metric", "window"], as_index=False)["value"].mean()

    def vde(self, values: pd.DataFrame, chunks: int, weighting: str) -> pd.DataFrame:
        from metrics.drift import video_drift_error

        units = values[values["kind"].isin(("frame", "pair", "triplet", "window"))]
        if units.empty:
            return pd.DataFrame(columns=["video", "metric", "vde"])
        table = video_drift_error(units, chunks, weighting)
        return table.groupby(["video", "metric"], as_index=False)["vde"].mean()
