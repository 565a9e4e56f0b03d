"""Training recipe for the lab perceptor (`fpbench train bench/train/configs/perceptor.yaml`).

Reads top to bottom: every step renders a fresh batch of random labelled frames (subject
present or not, anywhere, any shape / colour / identity, intact or broken, clean or
degraded; drawn from a random stream keyed by (seed, step), so a resumed run sees the same
data) and trains all heads at once. `bench.train.trainer.Trainer` keeps the resumable state, the
log and the exported files; the perceptor keeps no EMA (its trained weights are the checkpoint).
At the end it saves the safetensors checkpoint, the loss log (parquet + PNG) and a report of
held-out accuracies measured by `evaluate_perceptor`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.train.common import seed_everything
from bench.train.perceptor_eval import evaluate_perceptor
from bench.train.trainer import Trainer
from bench.world import COLOURS, NUM_IDENTITIES, SHAPES, junk_frame, sample_labelled_frame
from metrics.lab.perceptor import (
    LabPerceptor,
    LabPerceptorNet,
    PerceptorConfig,
    frames_to_tensor,
    save_perceptor,
)

# Identity is unreadable when the eyes are gone or moved: those frames do not train identity.
IDENTITY_READABLE = ("intact", "extra_eye", "torn")
COLOUR_SHIFT_READABLE = 0.25  # above this hue rotation the true colour no longer shows
HEAT_CELL = 4  # pixels per cell of the locator's 16×16 heat map
TRAIN_STREAM = 7_000  # first entropy word of training streams (evaluation uses other words)


@dataclass
class PerceptorTrainConfig:
    """Perceptor training settings (all keys of the YAML file).

    Args:
        out: checkpoint path; the log, loss log (`_loss.parquet` / `.png`) and report (`*_report.json`)
            go beside it.
        work_dir: where the resumable state (`last.pt`) is kept (not committed).
        steps: optimisation steps (cosine learning-rate decay over them).
        batch_size, lr, weight_decay, warmup_steps: optimisation.
        junk_fraction: share of frames replaced by frames of no world (mosaics, colour fields,
            noise, stripes), labelled absent and fully degraded, so failed generations read as such.
        crop_jitter: std (px) of the noise added to the true centre where the reader looks, so it
            tolerates the locator's errors.
        identity_margin: cosine margin of the identity classifier (larger separates identities more).
        checkpoint_every: steps between resumable states.
        max_minutes: stop early (still saving everything) when this much wall time has passed
            (counted across resumes).
        stop_at_step: stop early (still saving everything) at this step; a later call resumes.
        eval_frames, eval_clips: size of the held-out evaluation.
        seed: seeds initialisation and the data stream. threads: torch CPU threads.
    """

    out: str = "results/checkpoints/perceptor.safetensors"
    work_dir: str = "runs/perceptor"
    steps: int = 700
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    junk_fraction: float = 0.1
    crop_jitter: float = 1.0
    identity_margin: float = 0.2
    checkpoint_every: int = 100
    max_minutes: float = 18.0
    stop_at_step: int | None = None
    eval_frames: int = 2000
    eval_clips: int = 48
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.stop_at_step is not None and self.stop_at_step < 1:
            raise ValueError(f"stop_at_step must be >= 1 or null, got {self.stop_at_step}")


def render_batch(seed: int, step: int, batch_size: int, junk_fraction: float = 0.0) -> dict[str, np.ndarray]:
    """The labelled frames of one training step (same arguments → same batch).

    A `junk_fraction` of the frames are replaced by frames of no world at all (`junk_frame`),
    labelled subject absent and fully degraded.
    """
    rng = np.random.default_rng([TRAIN_STREAM, seed, step])
    samples = [sample_labelled_frame(rng) for _ in range(batch_size)]
    states = [s.state for s in samples]
    junk = rng.random(batch_size) < junk_fraction
    frames = np.stack([junk_frame(rng) if j else s.frame for s, j in zip(samples, junk, strict=True)])
    return {
        "frames": frames,
        "present": np.array([s.present and not j for s, j in zip(states, junk, strict=True)], np.float32),
        "position": np.array([(s.x, s.y) for s in states], np.float32),
        "shape": np.array([SHAPES.index(s.shape) for s in states]),
        "colour": np.array([COLOURS.index(s.colour) for s in states]),
        "identity": np.array([s.identity for s in states]),
        "intact": np.array([s.structure_intact for s in states], np.float32),
        "identity_readable": np.array([s.structure in IDENTITY_READABLE for s in states]),
        "colour_readable": np.array([s.degradation.colour_shift < COLOUR_SHIFT_READABLE for s in samples]),
        "level": np.where(junk, 1.0, [s.degradation.level for s in samples]).astype(np.float32),
        "jitter": rng.normal(0.0, 1.0, size=(batch_size, 2)).astype(np.float32),
        "absent_centre": rng.uniform(8.0, 56.0, size=(batch_size, 2)).astype(np.float32),
    }


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def perceptor_losses(
    net: LabPerceptorNet, batch: dict[str, np.ndarray], crop_jitter: float, identity_margin: float
) -> dict[str, torch.Tensor]:
    """Every head's loss on one batch (the reader looks at jittered true centres)."""
    t = {k: torch.from_numpy(v) for k, v in batch.items() if k != "frames"}
    present = t["present"]
    centres = torch.where(present[:, None] > 0, t["position"] + crop_jitter * t["jitter"], t["absent_centre"])
    out = net(frames_to_tensor(batch["frames"]), crop_centres=centres)
    position_error = F.smooth_l1_loss(out["position"], t["position"], reduction="none", beta=1.0).sum(1)
    cells = out["heat_logits"].shape[1]
    side = int(math.isqrt(cells))
    cell_xy = (t["position"] / HEAT_CELL).floor().long().clamp(0, side - 1)
    target_cell = cell_xy[:, 1] * side + cell_xy[:, 0]
    margin = identity_margin * F.one_hot(t["identity"], NUM_IDENTITIES)
    identity_logits = net.config.identity_scale * (out["identity_cosine"] - margin)
    readable_identity = present * t["identity_readable"].float()
    readable_colour = present * t["colour_readable"].float()
    return {
        "presence": F.binary_cross_entropy_with_logits(out["presence_logit"], present),
        "position": 0.1 * _masked_mean(position_error, present),
        "heat": 0.5 * _masked_mean(F.cross_entropy(out["heat_logits"], target_cell, reduction="none"), present),
        "degradation": F.binary_cross_entropy_with_logits(out["degradation_logit"], t["level"]),
        "shape": _masked_mean(F.cross_entropy(out["shape_logits"], t["shape"], reduction="none"), present),
        "colour": _masked_mean(
            F.cross_entropy(out["colour_logits"], t["colour"], reduction="none"), readable_colour
        ),
        "identity": _masked_mean(F.cross_entropy(identity_logits, t["identity"], reduction="none"), readable_identity),
        "structure": _masked_mean(
            F.binary_cross_entropy_with_logits(out["intact_logit"], t["intact"], reduction="none"), present
        ),
    }


def learning_rate(step: int, config: PerceptorTrainConfig) -> float:
    """Linear warm-up, then cosine decay to 2 % of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


# Keys that do not change the weights a step produces: a run may resume under other values.
RESUMABLE_CHANGES = ("out", "work_dir", "max_minutes", "stop_at_step", "threads", "eval_frames", "eval_clips",
                     "checkpoint_every")


def _net_config() -> PerceptorConfig:
    return PerceptorConfig(shapes=SHAPES, colours=COLOURS, num_identities=NUM_IDENTITIES)


def train_perceptor(config: PerceptorTrainConfig | None = None, show_progress: bool = True) -> Path:
    """Train (or resume) the lab perceptor; returns the checkpoint path.

    Writes `config.out` (safetensors), `<stem>.log`, `<stem>_loss.parquet`, `<stem>_loss.png` and
    `<stem>_report.json` beside it. Resumes from `config.work_dir/last.pt` when it exists; a config
    that differs from the state's in more than `RESUMABLE_CHANGES` (e.g. a larger max_minutes
    continues a run that was stopped by its time limit) is refused with a ValueError.
    """
    config = config or PerceptorTrainConfig()
    torch.set_num_threads(config.threads)
    trainer = Trainer(config.out, config.work_dir, show_progress, checkpoint_every_steps=config.checkpoint_every)
    seed_everything(config.seed)
    out = Path(config.out)

    # -- model (the data is rendered per step, keyed by (seed, step): no random stream to keep)
    net = LabPerceptorNet(_net_config())
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    trainer.start(net, optimiser, ema_decay=None, rng=None, generator=None,
                  config_line=f"perceptor config {json.dumps(asdict(config))}",
                  config=asdict(config), may_change=RESUMABLE_CHANGES)
    cpu_before = trainer.rows[-1]["cpu_s"] if trainer.rows else 0.0
    cpu_started = time.process_time()

    # -- loop
    last_step = config.steps if config.stop_at_step is None else min(config.steps, config.stop_at_step)
    while trainer.running(last_step, config.max_minutes):
        lr = learning_rate(trainer.step, config)
        for group in optimiser.param_groups:
            group["lr"] = lr
        batch = render_batch(config.seed, trainer.step, config.batch_size, config.junk_fraction)
        losses = perceptor_losses(net, batch, config.crop_jitter, config.identity_margin)
        loss = sum(losses.values())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()
        trainer.end_step(loss, lr=lr, cpu_s=cpu_before + time.process_time() - cpu_started,
                         **{f"loss_{k}": v.item() for k, v in losses.items()})
    if trainer.step < last_step:
        trainer.log(f"stopping at step {trainer.step}: max_minutes={config.max_minutes} reached")

    # -- export
    report = evaluate_perceptor(LabPerceptor(trainer.weights), num_frames=config.eval_frames, num_clips=config.eval_clips)
    report.update({"steps": trainer.step, "train_minutes": trainer.elapsed / 60,
                   "train_cpu_minutes": trainer.rows[-1]["cpu_s"] / 60 if trainer.rows else 0.0,
                   "parameters": sum(p.numel() for p in net.parameters()),
                   "checkpoint_bytes": None, "config": asdict(config)})
    trainer.export(report, "lab perceptor", save=lambda: save_perceptor(trainer.weights, out))
    return out
