"""Grids: YAML specs of an ablation study (rows × prompts × seeds × lengths), their
validation, `--set` overrides, and resolution into keyed runs through registries.

    from bench.grid import load_and_resolve
    grid = load_and_resolve("grids/demo.yaml", ["prompts.count=2"])
    for run in grid.runs: ...
"""

from bench.grid.errors import GridError, MissingCheckpointError
from bench.grid.overrides import apply_overrides
from bench.grid.prompts import PromptItem, load_prompt_set
from bench.grid.registry import (
    GeneratorKind,
    generator_kind,
    generator_kinds,
    load_plugins,
    metric_provider,
    register_generator_kind,
    register_metric_provider,
)
from bench.grid.resolve import ResolvedGrid, RunConfig, load_and_resolve, load_grid, resolve_grid, run_key
from bench.grid.spec import GridSpec, LengthSpec, MetricsSpec, PromptSetSpec, RatingSpec, RowSpec, parse_grid

__all__ = [
    "GeneratorKind", "GridError", "GridSpec", "LengthSpec", "MetricsSpec", "MissingCheckpointError",
    "PromptItem", "PromptSetSpec", "RatingSpec", "ResolvedGrid", "RowSpec", "RunConfig", "apply_overrides",
    "generator_kind", "generator_kinds", "load_and_resolve", "load_grid", "load_plugins", "load_prompt_set",
    "metric_provider", "parse_grid", "register_generator_kind", "register_metric_provider", "resolve_grid",
    "run_key",
]
