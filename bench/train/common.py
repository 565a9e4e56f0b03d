"""Pieces every training recipe shares: YAML configs into dataclasses, seeding, EMA,
atomic checkpoint files, loss logs (parquet) and loss-curve figures."""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import yaml

ConfigT = TypeVar("ConfigT")


class ConfigError(ValueError):
    """A training config names an unknown key or holds a value of the wrong kind."""


def read_yaml(path: str | os.PathLike, _including: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML mapping; FileNotFoundError / ConfigError name the file.

    `include: FILE` (or a list of files, paths relative to this file) reads those first; this
    file's own keys then override theirs, so a recipe says only what differs from its defaults.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}" + (f" (included by {_including[-1]})" if _including else ""))
    if path.resolve() in _including:
        raise ConfigError(f"{path}: includes itself through {[str(p) for p in _including]}; remove the loop")
    with open(path) as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(raw).__name__}")
    includes = raw.pop("include", None) or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(item, str) for item in includes):
        raise ConfigError(f"{path}: `include` must be a file name or a list of them, got {includes!r}")
    merged: dict[str, Any] = {}
    for item in includes:
        merged.update(read_yaml(path.parent / item, (*_including, path.resolve())))
    return {**merged, **raw}


def config_from_dict(cls: type[ConfigT], raw: dict[str, Any], source: str = "config") -> ConfigT:
    """Build dataclass `cls` from `raw`, rejecting unknown keys with the list of known ones."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(fields)}")
    values = {}
    for name, value in raw.items():
        default = fields[name].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{source}: {error}") from error


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class EMA:
    """Exponential moving average of a module's parameters (buffers are copied)."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(module).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        # Warm-up: early on the average follows the model closely.
        decay = min(self.decay, (1 + step) / (10 + step))
        for ema_p, p in zip(self.shadow.parameters(), module.parameters(), strict=True):
            ema_p.lerp_(p.detach(), 1 - decay)
        for ema_b, b in zip(self.shadow.buffers(), module.buffers(), strict=True):
            ema_b.copy_(b)


def save_training_state(path: str | os.PathLike, *, model, ema, optimiser, rng, generator,
                        step: int, elapsed: float, rows: list, config: dict | None = None) -> None:
    """Write everything a resumed run needs to continue bit for bit (atomically); `ema`, `rng` and
    `generator` may be None (a recipe without them), `config` is what the run was started with."""
    atomic_torch_save(
        {"model": model.state_dict(), "ema": None if ema is None else ema.shadow.state_dict(),
         "optimiser": optimiser.state_dict(), "rng": None if rng is None else rng.getstate(),
         "generator": None if generator is None else generator.get_state(), "step": step, "elapsed": elapsed,
         "rows": rows, "config": config},
        path,
    )


def restore_training_state(state: dict, *, model, ema, optimiser, rng, generator) -> tuple[int, float, list]:
    """Put what `save_training_state` wrote (loaded) into the given objects (those not None);
    returns (step, elapsed, rows)."""
    model.load_state_dict(state["model"])
    if ema is not None:
        ema.shadow.load_state_dict(state["ema"])
    optimiser.load_state_dict(state["optimiser"])
    if rng is not None:
        rng.setstate(state["rng"])
    if generator is not None:
        generator.set_state(state["generator"])
    return state["step"], state["elapsed"], state["rows"]


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temp file in the same folder, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_loss_log(rows: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """Write the per-step loss rows as parquet (atomically)."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def plot_loss_curve(rows: list[dict[str, Any]], path: str | os.PathLike, title: str) -> None:
    """Loss (and its running mean) against step, saved as PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(rows)
    if frame.empty:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(frame["step"], frame["loss"], lw=0.5, alpha=0.4, label="loss")
    window = max(1, len(frame) // 50)
    ax.plot(frame["step"], frame["loss"].rolling(window, min_periods=1).mean(), lw=1.5, label=f"mean of {window}")
    for column in [c for c in frame.columns if c.startswith("eval_")]:
        points = frame.dropna(subset=[column])
        ax.plot(points["step"], points[column], "o-", ms=3, label=column)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def new_lab_model(model_settings: dict, codec, seed: int):
    """A fresh `PackedDiT` for latents of `codec` (its basis copied in when the model has a motion prior)."""
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    model = PackedDiT(PackedDiTConfig(**{"latent_channels": codec.latent_channels, "seed": seed, **model_settings}))
    if model.config.motion_prior:
        model.pixel_view.copy_from_codec(codec)
    return model
