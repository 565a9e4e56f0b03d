"""Attention masks over packed tokens and the KV cache for clean context.

Masks are boolean (True = may attend), built from each token's latest covered frame index:

- "full": every token sees every token;
- "causal": a token sees tokens whose latest frame is not after its own (per frame);
- "block_causal": frames are cut into blocks of `block_frames` starting at the first noisy frame;
  a token sees its own block and earlier ones.

Whenever context cannot see noisy tokens (causal / block-causal masks with context before the
section), the context's keys and values do not depend on the noisy input, so they can be cached and
reused across denoising steps (`KVCache`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

ATTENTION_MODES = ("full", "causal", "block_causal")


def attention_mask(
    query_times: torch.Tensor,
    key_times: torch.Tensor,
    mode: str,
    *,
    block_origin: float = 0.0,
    block_frames: int = 1,
) -> torch.Tensor | None:
    """(Nq, Nk) bool mask for `mode`, or None for full attention.

    Args:
        query_times, key_times: latest true frame index of each token.
        mode: "full", "causal" or "block_causal".
        block_origin: frame index where block 0 starts (block_causal only).
        block_frames: frames per block (block_causal only).
    """
    if mode == "full":
        return None
    if mode == "causal":
        return key_times.view(1, -1) <= query_times.view(-1, 1)
    if mode == "block_causal":
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        query_blocks = torch.floor((query_times - block_origin) / block_frames)
        key_blocks = torch.floor((key_times - block_origin) / block_frames)
        return key_blocks.view(1, -1) <= query_blocks.view(-1, 1)
    raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {mode!r}")


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@dataclass
class KVCache:
    """Keys and values of the clean context, per layer, reused while the context stays the same.

    Pass one `KVCache()` to every `PackedDiT.forward` call of a section (e.g. all denoising steps):
    the first call fills it, later calls with identical context, conditioning and mask reuse it
    (`hits`), and a changed context refills it (`misses`). The cache assumes the weights do not
    change between calls; call `clear()` after an optimiser step.
    """

    layers: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    context_times: torch.Tensor | None = None
    hits: int = 0
    misses: int = 0
    _key: object = None

    def clear(self) -> None:
        """Forget the cached context (hit/miss counters are kept)."""
        self.layers = []
        self.context_times = None
        self._key = None

    def matches(self, key: object) -> bool:
        return self._key is not None and _same(self._key, key)

    def store(self, key: object, layers: list[tuple[torch.Tensor, torch.Tensor]], context_times: torch.Tensor) -> None:
        self._key = key
        self.layers = layers
        self.context_times = context_times
