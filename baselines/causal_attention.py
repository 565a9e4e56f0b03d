"""Causal attention: the full-attention backbone fine-tuned into block-causal attention over sections,
sampled with a KV cache (as CausVid turns a bidirectional video model into an autoregressive one).

Blocks are sections: a token attends to its own section and to earlier frames, never later ones,
so the history's keys and values do not depend on the section being denoised. The history is
re-encoded clean (t = 0) once per section — the frames just generated enter the cache as clean
context — and reused at every denoising step; the cached generator's frames equal the uncached
one's (tests/test_baselines_mechanisms.py). The window is the shared sliding window `td_f9k1_g9`.
"""

from __future__ import annotations

from baselines.backbone import BaselineBackbone
from baselines.sliding_window import DEFAULT_SECTION_FRAMES, window_schedule
from framepack.framepack_generator import FramePackGenerator

NAME = "causal_attention"
ATTENTION = "block_causal"


def causal_attention_backbone(model) -> BaselineBackbone:
    """The backbone with block-causal attention (blocks = sections), as trained and sampled."""
    return BaselineBackbone(model, attention=ATTENTION)


def causal_attention_lab(
    model,
    codec,
    frames_per_section: int = DEFAULT_SECTION_FRAMES,
    steps: int = 25,
    kv_cache: bool = True,
    **sampler,
) -> FramePackGenerator:
    """The causal-attention generator over a packed model and a lab codec.

    Args:
        model: the fine-tuned `PackedDiT`.
        codec: the lab codec.
        frames_per_section: latent frames per section (the window is as long).
        steps: sampler steps per section.
        kv_cache: reuse the clean history's keys/values across the section's steps (same frames,
            less compute); False recomputes them at every step.
        **sampler: further `FramePackGenerator` options (solver, shift, guidance, fps).
    """
    return FramePackGenerator(
        causal_attention_backbone(model),
        codec,
        window_schedule(frames_per_section),
        order="vanilla",
        steps=steps,
        kv_cache=kv_cache,
        name=NAME,
        **sampler,
    )
