"""Tidy result rows: one row per measured unit plus one video-score row per (video, metric).

Columns (`RESULT_COLUMNS`):
    video    str   the video's identifier (file path or run id)
    metric   str   metric name
    backend  str   paper | classical | lab
    version  str   the metric's cache version
    kind     str   frame | pair | triplet | window for unit rows; "video" for the score row;
                   "error" when the metric could not run (value is NaN and `error` says why)
    index    int   unit index (-1 for video and error rows)
    value    float the measured value
    error    str   "" when measured; else the reason (missing weights, bad video, ...)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.metric import MetricResult

RESULT_COLUMNS = ["video", "metric", "backend", "version", "kind", "index", "value", "error"]


def result_rows(video: str, metric: str, backend: str, version: str, result: MetricResult) -> pd.DataFrame:
    """The tidy rows of one `MetricResult`: its per-unit values, then the video score row."""
    count = len(result.values)
    frame = pd.DataFrame({
        "video": [video] * (count + 1),
        "metric": [metric] * (count + 1),
        "backend": [backend] * (count + 1),
        "version": [version] * (count + 1),
        "kind": [result.index_kind] * count + ["video"],
        "index": np.concatenate([result.index, [-1]]).astype(np.int64),
        "value": np.concatenate([result.values, [result.score]]).astype(np.float64),
        "error": [""] * (count + 1),
    })
    return frame


def error_row(video: str, metric: str, backend: str, version: str, error: str) -> pd.DataFrame:
    """One row saying that `metric` could not be measured on `video`, and why (value NaN, kind "error")."""
    return pd.DataFrame({
        "video": [video], "metric": [metric], "backend": [backend], "version": [version],
        "kind": ["error"], "index": np.array([-1], dtype=np.int64), "value": [np.nan], "error": [error],
    })


def empty_results() -> pd.DataFrame:
    """A results table with no rows and the right columns and dtypes."""
    return pd.DataFrame({
        "video": pd.Series(dtype=str), "metric": pd.Series(dtype=str), "backend": pd.Series(dtype=str),
        "version": pd.Series(dtype=str), "kind": pd.Series(dtype=str), "index": pd.Series(dtype=np.int64),
        "value": pd.Series(dtype=np.float64), "error": pd.Series(dtype=str),
    })


def concat_results(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate result tables (an empty list gives an empty table)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_results()
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]


def video_scores(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (video, metric, backend): the video score, or the error that prevented it."""
    rows = results[results["kind"].isin(["video", "error"])]
    return rows[["video", "metric", "backend", "version", "value", "error"]].reset_index(drop=True)


def write_results(results: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a results table as parquet, atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        results[RESULT_COLUMNS].to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results parquet written by `write_results`; ValueError if columns are missing."""
    table = pd.read_parquet(path)
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a metrics results table (missing columns {missing})")
    return table
