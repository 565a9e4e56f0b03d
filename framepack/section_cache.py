"""Work that is constant within a section, computed at its first denoising step and reused.

Within one section every solver step sees the same context, conditioning, frame positions and
drawn motion; only the noisy latents and the time change. A model that takes a `section_cache`
argument may keep whatever it derives from those constant inputs (the conditioning memory and its
cross-attention keys/values, the context's patch embeddings, RoPE rotations, the anchors and their
warp) in the `SectionCache` the sampler hands it, one fresh cache per section and guidance branch.

Every entry remembers the objects it was computed from and is reused only when the same objects
(`is`, not equality) come again: a caller that builds a new context at each step (noisy history)
simply gets it recomputed. The entry holds those objects, so their identities cannot be reused by
new objects while it lives. Values are the very tensors the first step computed, so reuse is
bit-exact. Nothing is cached for a call that records gradients (a graph must not be shared
between steps).

This is not the context key/value cache (`framepack.attention.KVCache`): FramePack's context
attends to the noisy tokens, so its keys and values change at every step and are recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import torch

T = TypeVar("T")


class SectionCache:
    """Values derived from a section's constant inputs, by name (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, name: Hashable, inputs: Sequence[Any], compute: Callable[[], T]) -> T:
        """`compute()`, or its value from an earlier call with the same `inputs` (compared by identity)."""
        if torch.is_grad_enabled():
            return compute()
        inputs = tuple(inputs)
        entry = self._entries.get(name)
        if entry is not None and len(entry[0]) == len(inputs) and all(a is b for a, b in zip(entry[0], inputs, strict=True)):
            self.hits += 1
            return entry[1]
        self.misses += 1
        value = compute()
        self._entries[name] = (inputs, value)
        return value


def cached(cache: SectionCache | None, name: Hashable, inputs: Sequence[Any], compute: Callable[[], T]) -> T:
    """`cache.get(name, inputs, compute)`, or just `compute()` without a cache."""
    return compute() if cache is None else cache.get(name, inputs, compute)
