"""The metric registry: backends register themselves by (name, backend)."""

from __future__ import annotations

import importlib

from metrics.metric import Metric

_REGISTRY: dict[tuple[str, str], type[Metric]] = {}

# Modules whose import registers the built-in backends (imported lazily, once).
BACKEND_MODULES = [
    "metrics.classical.motion_smoothness",
    "metrics.classical.dynamic_degree",
    "metrics.classical.iqa",
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
