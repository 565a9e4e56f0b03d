"""Measure videos with a chosen set of metrics and backends; the API the harness and CLI call."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.cache import MetricCache, content_hash
from metrics.metric import Metric, MetricUnavailableError
from metrics.registry import get_metric_class, metric_classes, metric_names
from metrics.results import concat_results, error_row, result_rows
from metrics.video_reader import VideoReadError, read_video

# Errors that mean "this metric cannot measure this video here" (missing weights / checkpoint files,
# a missing package, a bad or too short video); recorded per (video, metric).
RECORDED_ERRORS = (FileNotFoundError, MetricUnavailableError, VideoReadError, ValueError)


def resolve_backends(names: Sequence[str] | None, backends: str | Sequence[str]) -> list[tuple[str, str]]:
    """Choose one backend per metric name: the first of `backends` (a preference order) it has.

    Args:
        names: metric names; None means every name that has at least one of `backends`.
        backends: "lab" | "classical" | "paper", or a preference list such as ["lab", "classical"].

    Returns:
        [(name, backend), ...] in the order of `names`.

    Raises:
        ValueError naming a metric that has none of the requested backends.
    """
    preference = [backends] if isinstance(backends, str) else list(backends)
    for backend in preference:
        if backend not in ("paper", "classical", "lab"):
            raise ValueError(f"unknown backend {backend!r}; expected paper, classical or lab")
    available = {(cls.name, cls.backend) for cls in metric_classes()}
    chosen = []
    for name in names if names is not None else metric_names():
        match = next((b for b in preference if (name, b) in available), None)
        if match is None:
            if names is None:
                continue
            have = sorted(b for (n, b) in available if n == name)
            if not have:
                raise ValueError(f"unknown metric {name!r}; known: {metric_names()}")
            raise ValueError(f"metric {name!r} has no backend in {preference}; it has {have}")
        chosen.append((name, match))
    return chosen


class Evaluator:
    """Holds metric instances (so paper models load once) and an optional cache.

    Args:
        names: metric names (None: every metric with one of `backends`).
        backends: a backend or a preference list of backends (see `resolve_backends`).
        cache: a `MetricCache`, a folder path for one, or None for no cache.
        weights_dir: folder searched first for weight files (paper backends, NIQE).
        options: per-metric constructor options, {"aesthetic": {"head": "mlp"}, ...}.
        inference: `device`, `dtype` and `batch_size` for every backend that runs a torch network
            (`metrics.paper.inference.NetworkMetric`), e.g. {"device": "cuda", "dtype": "bfloat16"}.
        on_error: "record" (an error row per failing (video, metric); the default, for grids)
            or "raise".
    """

    def __init__(
        self,
        names: Sequence[str] | None = None,
        backends: str | Sequence[str] = ("lab", "classical"),
        cache: MetricCache | str | os.PathLike | None = None,
        weights_dir: str | os.PathLike | None = None,
        options: Mapping[str, Mapping] | None = None,
        on_error: str = "record",
        inference: Mapping | None = None,
    ) -> None:
        from metrics.paper.inference import NetworkMetric

        if on_error not in ("record", "raise"):
            raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
        self.on_error = on_error
        self.cache = MetricCache(cache) if isinstance(cache, str | os.PathLike) else cache
        self.metrics: list[Metric] = []
        for name, backend in resolve_backends(names, backends):
            cls = get_metric_class(name, backend)
            kwargs = dict((options or {}).get(name, {}))
            if inference and issubclass(cls, NetworkMetric):
                kwargs = {**inference, **kwargs}
            self.metrics.append(cls(weights_dir=None if weights_dir is None else str(weights_dir), **kwargs))
        self.computed = 0  # metric calls actually run (cache misses), for tests and progress

    def _error(self, video: str, metric: Metric, error: Exception) -> pd.DataFrame:
        if self.on_error == "raise":
            raise error
        return error_row(video, metric.name, metric.backend, metric.cache_version, str(error))

    def evaluate(
        self,
        frames: np.ndarray,
        prompt: str = "",
        video: str = "video",
        reference: np.ndarray | None = None,
        fps: float | None = None,
        metrics: Sequence[Metric] | None = None,
    ) -> pd.DataFrame:
        """Measure one video with every metric (or `metrics`, a subset); returns tidy rows (see
        `metrics.results`)."""
        video_hash = content_hash(frames, prompt, reference, fps) if self.cache is not None else ""
        tables = []
        for metric in self.metrics if metrics is None else metrics:
            version = metric.cache_version
            result = self.cache.get(video_hash, metric.name, metric.backend, version) if self.cache else None
            if result is None:
                try:
                    result = metric(frames, prompt, reference, fps)
                except RECORDED_ERRORS as error:
                    tables.append(self._error(video, metric, error))
                    continue
                self.computed += 1
                if self.cache is not None:
                    self.cache.put(video_hash, metric.name, metric.backend, version, result)
            tables.append(result_rows(video, metric.name, metric.backend, version, result))
        return concat_results(tables)

    def evaluate_files(
        self,
        paths: Iterable[str | os.PathLike],
        prompts: Mapping[str, str] | None = None,
        on_video: Callable[[str], None] | None = None,
        chunk_frames: int | None = None,
    ) -> pd.DataFrame:
        """Measure video files; a bad file gives error rows for it and the others are still measured.

        Args:
            paths: video files.
            prompts: prompt per path (str(path)); missing entries use a sidecar .txt, else "".
            on_video: called with each path after it is measured (progress).
            chunk_frames: decode and measure `streamable` metrics this many frames at a time
                (`metrics.streaming`), so a long video never sits whole in memory; the others still
                read the whole video. Streamed measurements bypass the cache. None: whole videos.
        """
        tables = []
        for path in paths:
            path = str(path)
            prompt = prompt_for(path, prompts)
            streamed = [m for m in self.metrics if chunk_frames and m.streamable]
            whole = [m for m in self.metrics if m not in streamed]
            if streamed:
                tables.append(self._evaluate_streamed(path, prompt, streamed, chunk_frames))
            if whole:
                try:
                    video = read_video(path)
                except VideoReadError as error:
                    if self.on_error == "raise":
                        raise
                    tables += [error_row(path, m.name, m.backend, m.cache_version, f"bad video: {error}")
                               for m in whole]
                else:
                    tables.append(self.evaluate(video.frames, prompt, video=path, fps=video.fps or None,
                                                metrics=whole))
            if on_video is not None:
                on_video(path)
        return concat_results(tables)

    def _evaluate_streamed(self, path: str, prompt: str, metrics: list[Metric], chunk_frames: int) -> pd.DataFrame:
        from metrics.metric import DEFAULT_FPS
        from metrics.streaming import chunk_length, read_video_chunks, video_fps

        tables = []
        for metric in metrics:
            try:
                fps = video_fps(path) or DEFAULT_FPS
                result = metric.stream(read_video_chunks(path, chunk_length(chunk_frames, fps)), prompt, None, fps)
            except VideoReadError as error:
                if self.on_error == "raise":
                    raise
                tables.append(error_row(path, metric.name, metric.backend, metric.cache_version, f"bad video: {error}"))
                continue
            except RECORDED_ERRORS as error:
                tables.append(self._error(path, metric, error))
                continue
            self.computed += 1
            tables.append(result_rows(path, metric.name, metric.backend, metric.cache_version, result))
        return concat_results(tables)


def prompt_for(path: str, prompts: Mapping[str, str] | None = None) -> str:
    """A video's prompt: from `prompts` (by path, then by file name, then by stem), else its sidecar .txt."""
    candidate = Path(path)
    if prompts:
        for key in (str(candidate), candidate.name, candidate.stem):
            if key in prompts:
                return prompts[key]
    sidecar = candidate.with_suffix(".txt")
    if sidecar.is_file():
        return sidecar.read_text().strip()
    return ""


def evaluate(
    frames: np.ndarray,
    prompt: str = "",
    names: Sequence[str] | None = None,
    backends: str | Sequence[str] = ("lab", "classical"),
    cache: MetricCache | str | os.PathLike | None = None,
    video: str = "video",
    reference: np.ndarray | None = None,
    fps: float | None = None,
    weights_dir: str | os.PathLike | None = None,
    on_error: str = "record",
) -> pd.DataFrame:
    """Measure one video (uint8 (T, H, W, 3)) and return tidy result rows.

    Args:
        frames: uint8 RGB frames (T, H, W, 3).
        prompt: the video's prompt (semantic metrics need it).
        names: metric names; None = all that have one of `backends`.
        backends: a backend or a preference list (default: lab, then classical).
        cache: a `MetricCache` or folder; cached (content, metric, backend, version) are not recomputed.
        video: the identifier written in the `video` column.
        reference: optional reference image (image-to-video start frame).
        fps: the video's frame rate (None: 16, the lab world's).
        weights_dir: folder searched first for weight files.
        on_error: "record" (error rows) or "raise".

    Returns:
        DataFrame with `metrics.results.RESULT_COLUMNS`. For repeated calls with paper backends,
        keep one `Evaluator` so the networks load once.
    """
    evaluator = Evaluator(names, backends, cache=cache, weights_dir=weights_dir, on_error=on_error)
    return evaluator.evaluate(frames, prompt, video=video, reference=reference, fps=fps)
