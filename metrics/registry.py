"""The metric registries: per-video backends and set-level backends register themselves by (name, backend).

Set-level metrics (`metrics.set_metric.SetMetric`: they compare a set of videos with real
video, e.g. FVD) have their own registry: they cannot measure one video, so the per-video
`Evaluator` never sees them; grids name them under `metrics.set_level`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from metrics.metric import Metric

if TYPE_CHECKING:
    from metrics.set_metric import SetMetric

_REGISTRY: dict[tuple[str, str], type[Metric]] = {}
_SET_REGISTRY: dict[tuple[str, str], type[SetMetric]] = {}

# Modules whose import registers the built-in backends (imported lazily, once).
BACKEND_MODULES = [
    "metrics.classical.motion_smoothness",
    "metrics.classical.dynamic_degree",
    "metrics.classical.iqa",
    "metrics.classical.colour_drift",
    "metrics.paper.clarity_musiq",
    "metrics.paper.clip_metrics",
    "metrics.paper.dynamic_raft",
    "metrics.paper.motion_interpolation",
    "metrics.paper.anatomy",
    "metrics.paper.identity_insightface",
    "metrics.paper.identity_dlib",
    "metrics.lab.perceptor_metrics",
    "metrics.lab.dynamic_degree",
    "metrics.lab.motion_smoothness",
    "metrics.lab.reference_features",
    "metrics.lab.i2v_fidelity",
    "metrics.paper.i2v_fidelity",
    "metrics.paper.fvd",
]
_loaded = False


def register(cls: type[Metric]) -> type[Metric]:
    """Class decorator: add a `Metric` subclass to the registry under (cls.name, cls.backend)."""
    key = (cls.name, cls.backend)
    if not cls.name:
        raise ValueError(f"{cls.__qualname__}: a registered metric needs a name")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"metric {key} registered twice ({_REGISTRY[key].__qualname__}, {cls.__qualname__})")
    _REGISTRY[key] = cls
    return cls


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for module in BACKEND_MODULES:
            importlib.import_module(module)
        _loaded = True


def metric_classes() -> list[type[Metric]]:
    """Every registered metric class, sorted by (name, backend)."""
    _load_builtin()
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def metric_names() -> list[str]:
    """The distinct metric names."""
    return sorted({cls.name for cls in metric_classes()})


def get_metric_class(name: str, backend: str) -> type[Metric]:
    """The class registered as (name, backend); ValueError listing what exists otherwise."""
    _load_builtin()
    try:
        return _REGISTRY[(name, backend)]
    except KeyError:
        backends = sorted(b for (n, b) in _REGISTRY if n == name)
        if backends:
            raise ValueError(f"metric {name!r} has no {backend!r} backend; it has {backends}") from None
        raise ValueError(f"unknown metric {name!r}; known: {metric_names()}") from None


def get_metric(name: str, backend: str, **options) -> Metric:
    """Instantiate the metric registered as (name, backend) with backend options (e.g. weights_dir)."""
    return get_metric_class(name, backend)(**options)


def register_set(cls: type[SetMetric]) -> type[SetMetric]:
    """Class decorator: add a `SetMetric` subclass to the set-level registry under (cls.name, cls.backend)."""
    key = (cls.name, cls.backend)
    if not cls.name:
        raise ValueError(f"{cls.__qualname__}: a registered metric needs a name")
    if key in _REGISTRY or (key in _SET_REGISTRY and _SET_REGISTRY[key] is not cls):
        raise ValueError(f"metric {key} registered twice ({cls.__qualname__})")
    _SET_REGISTRY[key] = cls
    return cls


def set_metric_classes() -> list[type[SetMetric]]:
    """Every registered set-level metric class, sorted by (name, backend)."""
    _load_builtin()
    return [_SET_REGISTRY[key] for key in sorted(_SET_REGISTRY)]


def get_set_metric_class(name: str, backends: str | list[str]) -> type[SetMetric]:
    """The set-level class of `name` with the first of `backends` it has; ValueError naming what exists."""
    _load_builtin()
    preference = [backends] if isinstance(backends, str) else list(backends)
    for backend in preference:
        if (name, backend) in _SET_REGISTRY:
            return _SET_REGISTRY[(name, backend)]
    have = sorted(b for (n, b) in _SET_REGISTRY if n == name)
    if have:
        raise ValueError(f"set-level metric {name!r} has no backend in {preference}; it has {have}")
    known = sorted({n for n, _ in _SET_REGISTRY})
    raise ValueError(f"unknown set-level metric {name!r}; known: {known}")
