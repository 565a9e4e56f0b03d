"""Video metrics: a registry of backends (paper / classical / lab), tidy results, a content cache,
drift from stored values, and offline weights resolution. Imports nothing from framepack,
baselines or bench.

Main entry points:
    metrics.evaluate(frames, prompt, names, backends, cache) -> DataFrame of tidy rows
    metrics.Evaluator(...).evaluate / .evaluate_files   (keeps paper networks loaded)
    metrics.drift.start_end_contrast(results), metrics.drift.window_curves(results)
    metrics.registry.get_metric(name, backend), metrics.weights.WeightsResolver
"""

from metrics import drift
from metrics.cache import MetricCache, content_hash
from metrics.evaluate import Evaluator, evaluate, resolve_backends
from metrics.metric import Metric, MetricResult, MetricUnavailableError
from metrics.registry import get_metric, metric_classes, metric_names, register
from metrics.results import RESULT_COLUMNS, read_results, video_scores, write_results
from metrics.video_reader import VideoReadError, read_video
from metrics.weights import MissingWeightsError, WeightsResolver

__all__ = [
    "RESULT_COLUMNS", "Evaluator", "Metric", "MetricCache", "MetricResult", "MetricUnavailableError",
    "MissingWeightsError", "VideoReadError", "WeightsResolver", "content_hash", "evaluate", "get_metric",
    "metric_classes", "metric_names", "read_results", "read_video", "register", "resolve_backends",
    "drift", "video_scores", "write_results",
]
