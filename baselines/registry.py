"""The baselines as named factories, for the harness (`bench.grid.baseline_rows` turns each entry into a
grid generator kind; baselines/ cannot import bench, so it only exposes this mapping).

A factory is called as `factory(checkpoint=PATH, codec=PATH, **params)` and returns a
`framepack.generator.Generator`; `BASELINE_PARAMETERS` lists the params a grid row may set.
Every baseline samples like the FramePack rows (same solver, shift and, by default, 25 steps).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baselines.anchor_frames import anchor_frames_lab
from baselines.causal_attention import causal_attention_lab
from baselines.history_guidance import history_guidance_lab
from baselines.noisy_history import noisy_history_lab
from baselines.repeated_i2v import repeated_i2v_lab
from framepack.generator import Generator

SAMPLER_PARAMETERS = {"steps", "solver", "shift", "fps", "frames_per_section"}


def load_lab_model(checkpoint: str | Path, codec: str | Path):
    """(PackedDiT in eval mode, LabCodec) from their checkpoint files (FileNotFoundError names a missing one)."""
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT

    model = PackedDiT.load(checkpoint)
    model.eval()
    return model, LabCodec.load(codec)


def _factory(make: Callable[..., Generator]) -> Callable[..., Generator]:
    def build(checkpoint: str | Path, codec: str | Path, **params) -> Generator:
        model, lab_codec = load_lab_model(checkpoint, codec)
        return make(model, lab_codec, **params)

    build.__doc__ = f"Load `checkpoint` and `codec`, then {make.__name__}(model, codec, **params)."
    build.__wrapped__ = make  # the grid reads the baseline's defaults from it (run identity)
    return build


BASELINE_FACTORIES: dict[str, Callable[..., Generator]] = {
    "repeated_i2v": _factory(repeated_i2v_lab),
    "anchor_frames": _factory(anchor_frames_lab),
    "causal_attention": _factory(causal_attention_lab),
    "noisy_history": _factory(noisy_history_lab),
    "history_guidance": _factory(history_guidance_lab),
}

BASELINE_PARAMETERS: dict[str, set[str]] = {
    "repeated_i2v": set(SAMPLER_PARAMETERS) | {"guidance"},
    "anchor_frames": set(SAMPLER_PARAMETERS) | {"guidance"},
    "causal_attention": set(SAMPLER_PARAMETERS) | {"guidance", "kv_cache"},
    "noisy_history": set(SAMPLER_PARAMETERS) | {"guidance", "sigma_test"},
    "history_guidance": set(SAMPLER_PARAMETERS) | {"guidance_scale", "history_level", "uncond_level"},
}
