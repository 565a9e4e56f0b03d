"""Generator kinds for the paper's alternative architectures (baselines/).

baselines/ may not import bench, so it cannot call `register_generator_kind` itself. Instead
it exposes a plain mapping, and this module turns each entry into a generator kind:

    # baselines/registry.py
    BASELINE_FACTORIES: dict[str, Callable[..., Generator]] = {
        "anchor_frames": build_anchor_frames,   # called as factory(checkpoint=..., codec=..., **params)
        ...
    }
    # optional: BASELINE_PARAMETERS = {"anchor_frames": {"steps", "window", ...}} to validate params

A grid row `baseline: anchor_frames` then validates (known name, known params, checkpoint
present) and builds through it. Until baselines/registry.py exists, no baseline kind is
registered and such rows fail validation naming the known kinds.
"""

from __future__ import annotations

import importlib
from typing import Any

from bench.grid.errors import GridError
from bench.grid.framepack_rows import (
    DEFAULT_CODEC,
    GENERATION_VERSION,
    check_sampler_values,
    keyword_defaults,
    resolved_settings,
)
from bench.grid.registry import GeneratorKind, register_generator_kind
from bench.grid.spec import RowSpec

REGISTRY_MODULE = "baselines.registry"


def _factories() -> tuple[dict[str, Any], dict[str, set[str]]]:
    try:
        module = importlib.import_module(REGISTRY_MODULE)
    except ModuleNotFoundError as error:
        if error.name in (REGISTRY_MODULE, "baselines"):
            return {}, {}
        raise
    return dict(getattr(module, "BASELINE_FACTORIES", {})), dict(getattr(module, "BASELINE_PARAMETERS", {}))


def _defaults(factory: Any, parameters: set[str] | None) -> dict[str, Any]:
    """The baseline's effective defaults: its own function's (reached through the factory's
    `__wrapped__`), then FramePackGenerator's for the sampler options it passes through."""
    from framepack.framepack_generator import FramePackGenerator

    functions = [f for f in (getattr(factory, "__wrapped__", None), FramePackGenerator.__init__) if f is not None]
    defaults = keyword_defaults(*functions)
    return {k: v for k, v in defaults.items() if parameters is None or k in parameters}


def _kind(name: str, factory: Any, parameters: set[str] | None) -> GeneratorKind:
    def validate(row: RowSpec) -> None:
        for label in ("codec",):
            value = row.params.get(label)
            if value is not None and not isinstance(value, str):
                raise GridError(f"{row.key}.params.{label}", f"expected a file path, got {value!r}")
        if parameters is not None:
            for key in row.params:
                if key not in parameters and key != "codec":
                    raise GridError(f"{row.key}.params.{key}",
                                    f"unknown parameter {key!r} of baseline {name!r}; expected one of "
                                    f"{', '.join(sorted(parameters)) or 'none'}")
        check_sampler_values(row, _defaults(factory, parameters))

    def build(row: RowSpec) -> Any:
        params = dict(row.params)
        codec = params.pop("codec", DEFAULT_CODEC)
        return factory(checkpoint=row.checkpoint, codec=codec, **params)

    def display_name(row: RowSpec) -> str:
        if not row.params:
            return name
        shown = ", ".join(f"{k}={v}" for k, v in sorted(row.params.items()) if k not in ("codec", "steps"))
        return f"{name} ({shown})" if shown else name

    return GeneratorKind(
        name=name, build=build, validate=validate, display_name=display_name, needs_checkpoint=True,
        extra_files=lambda row: {"codec": str(row.params.get("codec", DEFAULT_CODEC))},
        description=f"baseline {name} (baselines/)",
        settings=lambda row: resolved_settings(row, _defaults(factory, parameters)),
        version=GENERATION_VERSION,
        checkpoint_format="safetensors",
    )


def register_baselines() -> list[str]:
    """Register a generator kind per entry of baselines.registry.BASELINE_FACTORIES."""
    factories, parameters = _factories()
    for name, factory in factories.items():
        register_generator_kind(_kind(name, factory, parameters.get(name)), replace=True)
    return sorted(factories)


register_baselines()
