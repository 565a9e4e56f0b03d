"""Baseline fine-tunes from the base model (`fpbench train bench/train/configs/baseline_*.yaml`).

The paper fine-tunes HunyuanVideo into each alternative architecture; the lab does the same from the
lab base model with the FramePack fine-tune loop (`bench.train.finetune.train_finetune`): training
batches are cut by the baseline's sliding-window schedule and section plans, and the loss and the
held-out comparison go through the baseline's backbone adapter (`baselines.backbone`) — the same one
its generator samples with:

    repeated_i2v       td_f1k1_g9, one-section videos (the context frame is the run's start image)
    anchor_frames      f1k1_x_f8k1_g9 (start frame anchored), full attention
    causal_attention   td_f9k1_g9, block-causal attention over sections
    noisy_history      td_f9k1_g9, history at time σ_train·t (σ_train fixed, or None: U(0, 1) per example)
    history_guidance   td_f9k1_g9, history at its own time τ ~ U(0, 1), erased (τ = 1) for a share

Every key of `FinetuneConfig` is accepted besides these (schedule and order are derived).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from baselines.anchor_frames import anchor_frames_backbone
from baselines.causal_attention import causal_attention_backbone
from baselines.history_guidance import TRAIN_FULL_NOISE_PROB, history_guidance_backbone
from baselines.noisy_history import noisy_history_backbone
from baselines.sliding_window import (
    DEFAULT_SECTION_FRAMES,
    anchored_window_schedule,
    single_image_schedule,
    window_schedule,
)
from bench.train.finetune import FinetuneConfig, train_finetune

BASELINES = ("repeated_i2v", "anchor_frames", "causal_attention", "noisy_history", "history_guidance")


@dataclass
class BaselineTrainConfig(FinetuneConfig):
    """A baseline fine-tune: `FinetuneConfig` plus the baseline's own keys.

    Args:
        baseline: one of BASELINES.
        frames_per_section: latent frames per section (the sliding window is as long).
        sigma_train: noisy_history's σ_train in [0, 1]; None (null in YAML) draws σ ~ U(0, 1) per example.
        full_noise_prob: history_guidance's share of examples with erased history.
        noise_seed: seed of the history-noise stream (noisy_history, history_guidance).
        schedule, order: derived from the baseline; leave them out.
    """

    schedule: str = ""
    baseline: str = ""
    frames_per_section: int = DEFAULT_SECTION_FRAMES
    sigma_train: float | None = None
    full_noise_prob: float = TRAIN_FULL_NOISE_PROB
    noise_seed: int = 1

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        schedule = baseline_schedule(self.baseline, self.frames_per_section)
        if self.schedule and self.schedule != schedule:
            raise ValueError(f"baseline {self.baseline} trains schedule {schedule}; do not set schedule={self.schedule!r}")
        self.schedule, self.order = schedule, "vanilla"
        if self.baseline == "repeated_i2v" and self.max_sections != 1:
            raise ValueError(
                f"repeated_i2v trains on one-section videos (its only context is the start image); "
                f"set max_sections: 1, got {self.max_sections}"
            )
        if self.sigma_train is not None and not 0 <= self.sigma_train <= 1:
            raise ValueError(f"sigma_train must be in [0, 1] or null (random), got {self.sigma_train}")
        super().__post_init__()


def baseline_schedule(baseline: str, frames_per_section: int = DEFAULT_SECTION_FRAMES) -> str:
    """The sliding-window schedule (notation) a baseline trains and samples with."""
    if baseline == "repeated_i2v":
        return str(single_image_schedule(frames_per_section))
    if baseline == "anchor_frames":
        return str(anchored_window_schedule(frames_per_section))
    if baseline in BASELINES:
        return str(window_schedule(frames_per_section))
    raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")


def training_adapter(config: BaselineTrainConfig):
    """module -> the baseline's backbone adapter. A module in training mode gets the training view
    (random levels, its own noise stream seeded from `noise_seed`); one in eval mode (the EMA weights
    of the held-out comparison) gets the sampling view: σ_test = σ_train (0 when σ_train is random),
    history guidance's conditional branch with clean history."""

    def adapt(model: torch.nn.Module) -> torch.nn.Module:
        generator = torch.Generator().manual_seed(config.noise_seed)
        sampling = not model.training
        if config.baseline == "causal_attention":
            return causal_attention_backbone(model)
        if config.baseline == "noisy_history":
            if sampling:
                return noisy_history_backbone(model, config.sigma_train or 0.0)
            return noisy_history_backbone(model, config.sigma_train, generator)
        if config.baseline == "history_guidance":
            if sampling:
                return history_guidance_backbone(model, 0.0)
            return history_guidance_backbone(model, None, config.full_noise_prob, generator)
        return anchor_frames_backbone(model)  # repeated_i2v, anchor_frames: clean context, full attention

    return adapt


def train_baseline(config: BaselineTrainConfig, show_progress: bool = True) -> dict:
    """Fine-tune one baseline from the base model (resumable); returns the report and records the
    baseline's settings in the checkpoint's sidecar JSON."""
    report = train_finetune(config, show_progress, adapt_model=training_adapter(config))
    sidecar = Path(config.out).with_suffix(".json")
    if sidecar.is_file():
        data = json.loads(sidecar.read_text())
        data.update({"baseline": config.baseline, "frames_per_section": config.frames_per_section})
        if config.baseline == "noisy_history":
            data["sigma_train"] = config.sigma_train if config.sigma_train is not None else "random U(0,1)"
        if config.baseline == "history_guidance":
            data["full_noise_prob"] = config.full_noise_prob
        temporary = sidecar.with_name(sidecar.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        os.replace(temporary, sidecar)
    return {"baseline": config.baseline, **report}
