"""Registries the grid resolves names through: generator kinds and metric providers.

A generator kind turns a grid row into a `framepack.generator.Generator`. The "framepack"
kind (schedule rows) and the baselines are registered by modules listed in
`BUILTIN_PLUGINS`, imported on first lookup; a grid's `plugins:` (module names or .py files)
can register more, e.g. a researcher's own generator or a test's fake one::

    from bench.grid.registry import GeneratorKind, register_generator_kind

    register_generator_kind(GeneratorKind(name="my_model", build=lambda row: MyGenerator(**row.params)))

A metric provider measures frames and computes drift; the default "metrics" provider wraps
the `metrics` package and is registered here. See `bench.grid.providers`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.grid.errors import GridError
from bench.grid.providers import MetricProvider, PackageMetricProvider

if TYPE_CHECKING:
    from bench.grid.spec import RowSpec
    from framepack.generator import Generator

# Modules that register the built-in generator kinds and metric providers when imported.
BUILTIN_PLUGINS = (
    "bench.grid.framepack_rows",
    "bench.grid.baseline_rows",
    "bench.grid.full_scale_rows",
    "bench.grid.reference_rows",
)


@dataclass(frozen=True)
class RequiredFile:
    """A file a grid needs before it can run: where it goes, whether it is there, where it comes from."""

    path: str
    present: bool
    source: str = ""


@dataclass(frozen=True)
class GeneratorKind:
    """How rows of one kind are checked, named and built.

    Attributes:
        name: the kind, as a row names it (`baseline: NAME` / `generator: NAME`; "framepack"
            for schedule rows).
        build: row -> Generator. Called in the worker process that runs the row.
        validate: row -> None, raising GridError / FileNotFoundError naming the row's key;
            called before any work starts. None means "nothing beyond the checkpoint".
        display_name: row -> table row name when the row has no `name:`.
        needs_checkpoint: whether a row of this kind must name an existing checkpoint.
        extra_files: row -> {label: path} of further files whose CONTENT determines the
            output (e.g. FramePack's codec); they are hashed into the run key.
        reference: a reference row (real clips, static video): measured like every row, but
            not ranked in tables and left out of votes and ratings.
        description: one line for listings.
        settings: row -> the generator's resolved settings, every default filled in (hashed
            into the run key, so changing a default regenerates the runs it affects). None:
            the row's params as written.
        version: the generation code path's version; bump it when the same settings make
            other frames, and every run of the kind is regenerated.
        checkpoint_format: "safetensors" checks the checkpoint and extra files by content
            before any work; None accepts any file.
        weight_files: row -> every weight file the row needs (`RequiredFile`s), listed by
            `fpbench run --dry-run` before any work; None: only the checkpoint and extra files.
    """

    name: str
    build: Callable[[RowSpec], Generator]
    validate: Callable[[RowSpec], None] | None = None
    display_name: Callable[[RowSpec], str] | None = None
    needs_checkpoint: bool = True
    extra_files: Callable[[RowSpec], dict[str, str]] | None = None
    reference: bool = False
    description: str = ""
    settings: Callable[[RowSpec], dict[str, Any]] | None = None
    version: str = "1"
    checkpoint_format: str | None = None
    weight_files: Callable[[RowSpec], list[RequiredFile]] | None = None


_GENERATOR_KINDS: dict[str, GeneratorKind] = {}
_METRIC_PROVIDERS: dict[str, Callable[[], MetricProvider]] = {"metrics": PackageMetricProvider}
_loaded_builtins = False


def register_generator_kind(kind: GeneratorKind, replace: bool = False) -> GeneratorKind:
    """Register a generator kind. Re-registering the same name needs `replace=True`."""
    if kind.name in _GENERATOR_KINDS and not replace and _GENERATOR_KINDS[kind.name] != kind:
        raise ValueError(f"generator kind {kind.name!r} is already registered")
    _GENERATOR_KINDS[kind.name] = kind
    return kind


def register_metric_provider(name: str, factory: Callable[[], MetricProvider]) -> None:
    """Register a metric provider under `name` (a grid selects it with `metrics.provider`)."""
    _METRIC_PROVIDERS[name] = factory


def _load_builtins() -> None:
    global _loaded_builtins
    if _loaded_builtins:
        return
    _loaded_builtins = True
    for module in BUILTIN_PLUGINS:
        importlib.import_module(module)


def generator_kind(name: str, key: str = "rows", source: str | None = None) -> GeneratorKind:
    """The registered kind `name`.

    Raises:
        GridError: no such kind; the message lists the known ones.
    """
    _load_builtins()
    if name not in _GENERATOR_KINDS:
        known = ", ".join(sorted(_GENERATOR_KINDS)) or "none"
        raise GridError(key, f"unknown generator/baseline {name!r}; registered kinds: {known}", source)
    return _GENERATOR_KINDS[name]


def generator_kinds() -> dict[str, GeneratorKind]:
    """All registered kinds by name."""
    _load_builtins()
    return dict(_GENERATOR_KINDS)


def metric_provider(name: str, source: str | None = None) -> MetricProvider:
    """A fresh instance of the metric provider `name`.

    Raises:
        GridError: no such provider.
    """
    _load_builtins()
    if name not in _METRIC_PROVIDERS:
        known = ", ".join(sorted(_METRIC_PROVIDERS)) or "none"
        raise GridError("metrics.provider", f"unknown metric provider {name!r}; registered: {known}", source)
    return _METRIC_PROVIDERS[name]()


def load_plugins(plugins: tuple[str, ...] | list[str], base_dir: Path | None = None) -> None:
    """Import plugin modules (dotted names) or files (`*.py`, relative to `base_dir`).

    Importing is idempotent: a plugin already imported is not imported again, so workers
    can call this for every run.

    Raises:
        GridError: a plugin that cannot be found or fails to import.
    """
    _load_builtins()
    for i, plugin in enumerate(plugins):
        key = f"plugins[{i}]"
        if plugin.endswith(".py"):
            path = Path(plugin)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            path = path.resolve()
            if not path.is_file():
                raise GridError(key, f"plugin file {plugin!r} does not exist (looked at {path})")
            module_name = "fpbench_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
            if module_name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as error:
                del sys.modules[module_name]
                raise GridError(key, f"plugin file {plugin!r} failed to import: {error!r}") from error
        else:
            try:
                importlib.import_module(plugin)
            except ModuleNotFoundError as error:
                raise GridError(key, f"plugin module {plugin!r} cannot be imported: {error}") from error
