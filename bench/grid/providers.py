"""Metric providers: what measures a run's frames and turns stored values into drift.

The harness never computes a metric itself. A provider wraps a metric registry; the
default, "metrics", wraps the `metrics` package (its registry, its cache, its drift
functions). Tests and plugins may register their own provider.

Values travel as a tidy DataFrame with the columns of `VALUE_COLUMNS`:
one row per (metric, index) where `index_kind` is "frame", "pair", "triplet", "window"
or "video" (the video score, index 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from bench.grid.errors import GridError
from bench.grid.registry import register_metric_provider

VALUE_COLUMNS = ("metric", "backend", "version", "index_kind", "index", "value")


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
        """Direction, granularity and version of one metric."""

    def unavailable(self, names: Sequence[str], backend: str) -> dict[str, str]:
        """Metrics that cannot run here, with the reason (e.g. the missing weights file)."""

    def score(self, frames: np.ndarray, prompt: str, name: str, backend: str,
              reference: np.ndarray | None = None) -> pd.DataFrame:
        """Measure one metric on uint8 frames (T, H, W, 3); tidy rows of VALUE_COLUMNS.
        Raises MetricUnavailable when it cannot run here."""

    def drift(self, values: pd.DataFrame) -> pd.DataFrame:
        """Start–end contrast per metric from one video's stored values: columns metric, drift."""

    def curves(self, values: pd.DataFrame, windows: int) -> pd.DataFrame:
        """Per-window curves from one video's stored values: columns metric, window, value."""


def check_value_frame(values: pd.DataFrame, name: str) -> pd.DataFrame:
    """Normalise a provider's result for metric `name` to VALUE_COLUMNS, refusing NaNs."""
    missing = [c for c in VALUE_COLUMNS if c not in values.columns]
    if missing:
        raise ValueError(f"metric {name!r} returned values without columns {missing}")
    values = values.loc[:, list(VALUE_COLUMNS)].copy()
    if values["value"].isna().any():
        raise ValueError(f"metric {name!r} returned NaN values; a metric that cannot measure must raise")
    if not (values["index_kind"] == "video").any():
        raise ValueError(f"metric {name!r} returned no video score")
    values["index"] = values["index"].astype("int64")
    values["value"] = values["value"].astype("float64")
    return values


class PackageMetricProvider:
    """The default provider: the `metrics` package's registry, cache and drift."""

    def __init__(self) -> None:
        try:
            import metrics  # noqa: F401
        except ImportError as error:  # pragma: no cover - the package is part of the repo
            raise GridError("metrics.provider", f"the metrics package cannot be imported: {error}") from None

    def check(self, names: Sequence[str], backend: str) -> None:
        raise GridError("metrics.provider", "the metrics package adapter is not wired yet")

    def info(self, name: str, backend: str) -> MetricInfo:
        raise NotImplementedError

    def unavailable(self, names: Sequence[str], backend: str) -> dict[str, str]:
        raise NotImplementedError

    def score(self, frames, prompt, name, backend, reference=None) -> pd.DataFrame:
        raise NotImplementedError

    def drift(self, values: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def curves(self, values: pd.DataFrame, windows: int) -> pd.DataFrame:
        raise NotImplementedError


register_metric_provider("metrics", PackageMetricProvider)
