"""Step caches on the full-scale transformers (diffusers' `CacheMixin.enable_cache`) and the count of
what they saved.

A row asks for a cache as a param, `cache: {kind: first_block, threshold: 0.05}`; the other keys are
fields of the diffusers config of that kind:

    first_block  -> FirstBlockCacheConfig   (TeaCache-like: skip every block after the first when the
                                             first block's residual barely changed; `threshold`)
    mag          -> MagCacheConfig          (`threshold`, `max_skip_steps`, `retention_ratio`, and either
                                             the model's `mag_ratios` or `calibrate: true`)
    taylorseer   -> TaylorSeerCacheConfig   (`cache_interval`, `disable_cache_before_step`, `max_order`, ...)
    faster       -> FasterCacheConfig       (`spatial_attention_block_skip_range`, ...; attention only)

`num_inference_steps` (mag) and the timestep callback (faster) are filled in by the generator.
`ComputeCounter` counts network evaluations and, per transformer block call, whether the block really
computed (any of its Linear layers ran) or was skipped by a cache: the compute a cache saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

CACHE_KINDS = {
    "first_block": "FirstBlockCacheConfig",
    "mag": "MagCacheConfig",
    "taylorseer": "TaylorSeerCacheConfig",
    "faster": "FasterCacheConfig",
}
# Block lists of the transformers the suite drives (FramePack / HunyuanVideo, SkyReels-V2 / Wan).
BLOCK_LISTS = ("transformer_blocks", "single_transformer_blocks", "blocks")


@dataclass(frozen=True)
class CacheSpec:
    """A validated `cache:` row param: the kind and the diffusers config fields it sets."""

    kind: str
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> CacheSpec | None:
        """A `cache:` param (None, a CacheSpec, or a mapping with `kind`) as a CacheSpec; ValueError otherwise."""
        if value is None or isinstance(value, CacheSpec):
            return value
        if not isinstance(value, dict) or "kind" not in value:
            raise ValueError(f"cache must be a mapping with a `kind` (one of {sorted(CACHE_KINDS)}), got {value!r}")
        settings = {k: v for k, v in value.items() if k != "kind"}
        spec = cls(str(value["kind"]), settings)
        spec.diffusers_config(num_inference_steps=25, current_timestep=lambda: 0)  # validates every field now
        return spec

    def diffusers_config(self, num_inference_steps: int, current_timestep: Callable[[], float]):
        """The diffusers config object for this spec (ValueError naming a bad kind or field)."""
        import diffusers

        if self.kind not in CACHE_KINDS:
            raise ValueError(f"cache kind must be one of {sorted(CACHE_KINDS)}, got {self.kind!r}")
        settings = dict(self.settings)
        if self.kind == "mag":
            settings.setdefault("num_inference_steps", num_inference_steps)
        if self.kind == "faster":
            settings.setdefault("current_timestep_callback", current_timestep)
            # FramePack and SkyReels (per call) have no batched unconditional half to skip.
            settings.setdefault("is_guidance_distilled", True)
        for key in ("spatial_attention_timestep_skip_range", "temporal_attention_timestep_skip_range",
                    "low_frequency_weight_update_timestep_range", "high_frequency_weight_update_timestep_range",
                    "unconditional_batch_timestep_skip_range"):
            if isinstance(settings.get(key), list):
                settings[key] = tuple(settings[key])  # YAML gives lists
        config_class = getattr(diffusers, CACHE_KINDS[self.kind])
        try:
            return config_class(**settings)
        except TypeError as error:
            raise ValueError(f"cache {self.kind!r}: {error}; see diffusers' {config_class.__name__} for its fields") from None
        except ValueError as error:
            raise ValueError(f"cache {self.kind!r}: {error}") from None

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.settings.items()) if k != "mag_ratios")
        return f"{self.kind}({shown})" if shown else self.kind


@contextmanager
def cached_and_counted(transformer: torch.nn.Module, spec: CacheSpec | None, num_inference_steps: int,
                       current_timestep: Callable[[], float]) -> Iterator[ComputeCounter]:
    """Within the block, `transformer` runs with `spec`'s cache (None: no cache) and a `ComputeCounter`
    counts its work; afterwards both are removed, so generators sharing the transformer do not meet
    each other's cache."""
    if getattr(transformer, "is_cache_enabled", False):
        transformer.disable_cache()
    if spec is not None:
        transformer.enable_cache(spec.diffusers_config(num_inference_steps, current_timestep))
    counter = ComputeCounter(transformer, cache=spec)
    try:
        yield counter
    finally:
        counter.remove()
        if spec is not None:
            transformer.disable_cache()


def transformer_blocks(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """Every transformer block, in the order the model runs them."""
    blocks: list[torch.nn.Module] = []
    for name in BLOCK_LISTS:
        blocks.extend(getattr(transformer, name, None) or [])
    if not blocks:
        raise ValueError(f"{type(transformer).__name__} has none of the block lists {BLOCK_LISTS}")
    return blocks


class ComputeCounter:
    """Counts network evaluations and block calls that computed or were skipped, through forward hooks.

    A block call "computed" when at least one Linear layer inside it ran; a cache that returns a
    stored residual instead leaves them all idle ("skipped"). `linear_calls` also falls when a cache
    skips only part of a block (FasterCache skips attention).
    """

    def __init__(self, transformer: torch.nn.Module, cache: CacheSpec | None = None) -> None:
        self.transformer = transformer
        self.cache = cache
        self.network_evaluations = 0
        self.blocks_computed = 0
        self.blocks_skipped = 0
        self.linear_calls = 0
        self._active: list[bool] = []
        self._handles = [transformer.register_forward_pre_hook(self._on_network)]
        for block in transformer_blocks(transformer):
            self._handles.append(block.register_forward_pre_hook(self._on_block_start))
            self._handles.append(block.register_forward_hook(self._on_block_end))
            for module in block.modules():
                if isinstance(module, torch.nn.Linear):
                    self._handles.append(module.register_forward_pre_hook(self._on_linear))

    def _on_network(self, *_):
        self.network_evaluations += 1

    def _on_block_start(self, *_):
        self._active.append(False)

    def _on_linear(self, *_):
        self.linear_calls += 1
        if self._active:
            self._active[-1] = True

    def _on_block_end(self, *_):
        if self._active.pop():
            self.blocks_computed += 1
        else:
            self.blocks_skipped += 1

    def new_sample(self) -> None:
        """Forget what the cache holds: the next call denoises a new sample from fresh noise."""
        if getattr(self.transformer, "is_cache_enabled", False):
            from diffusers.hooks import HookRegistry

            HookRegistry.check_if_exists_or_initialize(self.transformer).reset_stateful_hooks()

    def report(self) -> dict[str, Any]:
        """What the last generation computed: counts, and the cache that was on (None: none)."""
        return {"network_evaluations": self.network_evaluations, "blocks_computed": self.blocks_computed,
                "blocks_skipped": self.blocks_skipped, "linear_calls": self.linear_calls,
                "cache": self.cache.describe() if self.cache else None}

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
