"""Pretraining the lab base video model (`fpbench train bench/train/configs/base.yaml`).

A short-clip flow-matching video model on `PackedDiT`: bidirectional attention over a section of
latent frames and its packed context, text (and start-frame) conditioning. Every training batch is
one section plan of one of the FramePack schedules the variants use (inverted anti-drifting,
vanilla, anti-drifting with an endpoint), cut from world clips exactly as the sampler will see
it, so the per-variant fine-tunes only need a short run.

The loop reads top to bottom: data → model → (resume) → steps → periodic held-out comparison
against copying the last context frame → export; `bench.train.trainer.Trainer` keeps the EMA, the
resumable state, the log and the exported files.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field

import torch

from bench.train.common import new_lab_model, seed_everything
from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, build_batch, random_batch, sample_plan
from bench.train.objective import compare_to_copy_last, conditioning, flow_matching_loss, uses_motion_prior
from bench.train.trainer import Trainer
from framepack.lab.codec import LabCodec

INVERTED = "f1k1_x_g9_f1k1f2k2f16k4_td"
VANILLA = "td_f16k4f4k2f1k1_g9"
ANTI_DRIFTING_ENDPOINT = "td_f16k4f4k2f1k1_g9_x_f1k1"


def default_plan_choices() -> list[dict]:
    return [
        {"schedule": INVERTED, "order": "inverted_anti_drifting", "has_start": True, "weight": 1.0},
        {"schedule": VANILLA, "order": "vanilla", "has_start": True, "weight": 1.0},
        {"schedule": VANILLA, "order": "vanilla", "has_start": False, "weight": 0.25},
        {"schedule": ANTI_DRIFTING_ENDPOINT, "order": "anti_drifting", "has_start": True, "weight": 0.75},
    ]


@dataclass
class BaseTrainConfig:
    """Base-model pretraining settings (all keys of the YAML file).

    Args:
        out: exported EMA checkpoint (float16 safetensors); log, loss parquet/PNG and report beside it.
        run_dir: resumable state (`last.pt`).
        cache_dir: where encoded latent pools are cached (shared between runs with the same codec).
        codec: the lab codec checkpoint the latents come from.
        plans: schedules / orders / start-frame flags / weights that training batches are drawn from.
        max_sections: videos of 1 … max_sections sections are planned (clips must be long enough).
        train_clips, clip_frames, heldout_clips: the latent pools.
        model: `PackedDiTConfig` keys (latent_channels is taken from the codec).
        loss_target: "preconditioned", "velocity" or "x0" (see `bench.train.objective`).
        batch_size, lr, warmup_steps, weight_decay, grad_clip: optimisation.
        time_shift: shift of the training-time distribution (> 1: more high-noise samples).
        text_dropout: rate at which prompts are emptied (for classifier-free guidance).
        max_minutes, max_steps: budget; training stops at the first one reached (the time budget
            counts across resumes).
        ema_decay: decay of the saved weight average.
        eval_every_minutes, checkpoint_every_minutes: held-out comparison and resumable-state periods.
        eval_batches, eval_batch_size, eval_steps: size and sampler steps of the held-out comparison.
        seed, threads: determinism and torch CPU threads.
    """

    out: str = "results/checkpoints/base.safetensors"
    run_dir: str = "runs/base"
    cache_dir: str = "runs/cache"
    codec: str = "results/checkpoints/codec.safetensors"
    plans: list[dict] = field(default_factory=default_plan_choices)
    max_sections: int = 12
    train_clips: int = 400
    clip_frames: int = 110
    heldout_clips: int = 32
    model: dict = field(
        default_factory=lambda: {"dim": 96, "depth": 4, "heads": 4, "mlp_ratio": 2.5, "text_vocab": 512}
    )
    loss_target: str = "preconditioned"
    batch_size: int = 8
    lr: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    time_shift: float = 1.0
    text_dropout: float = 0.1
    max_minutes: float = 80.0
    max_steps: int = 1_000_000
    ema_decay: float = 0.998
    eval_every_minutes: float = 5.0
    checkpoint_every_minutes: float = 3.0
    eval_batches: int = 2
    eval_batch_size: int = 8
    eval_steps: int = 8
    seed: int = 0
    threads: int = 2


def plan_choices(config_plans: list[dict]) -> list[PlanChoice]:
    try:
        return [PlanChoice(**plan) for plan in config_plans]
    except TypeError as error:
        raise ValueError(f"bad entry in plans: {error}; each needs schedule, order (+ has_start, has_end, weight)") from error


def fixed_eval_batches(pool: LatentClipPool, choices: list[PlanChoice], config, count: int, batch_size: int, seed: int):
    """Held-out batches drawn once (deterministically) and reused at every evaluation."""
    rng = random.Random(seed)
    batches = []
    while len(batches) < count:
        choice, batch = random_batch(pool, choices, config.max_sections, batch_size, rng)
        if batch.last_context is not None:
            batches.append(batch)
    return batches


def train_base(config: BaseTrainConfig, show_progress: bool = True) -> dict:
    """Pretrain (or resume) the base model described by `config`; returns the final report."""
    torch.set_num_threads(config.threads)
    trainer = Trainer(config.out, config.run_dir, show_progress, config.checkpoint_every_minutes,
                      on_checkpoint=lambda: trainer.export_weights())  # an interrupted base still leaves a model
    seed_everything(config.seed)

    # -- data
    codec = LabCodec.load(config.codec)
    choices = plan_choices(config.plans)
    started = time.time()
    pool = LatentClipPool.build(codec, "train", config.train_clips, config.clip_frames, config.seed,
                                config.cache_dir, config.codec, show_progress)
    heldout = LatentClipPool.build(codec, "heldout", config.heldout_clips, config.clip_frames, config.seed,
                                   config.cache_dir, config.codec, show_progress)
    trainer.log(f"latent pools ready ({len(pool)} train / {len(heldout)} held-out clips of {pool.clip_frames} frames) "
                f"in {time.time() - started:.0f}s")
    eval_batches = fixed_eval_batches(heldout, choices, config, config.eval_batches, config.eval_batch_size, config.seed + 1)

    # -- model
    model = new_lab_model(config.model, codec, config.seed)
    encoder = model.text_encoder()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.99))
    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    trainer.start(model, optimiser, config.ema_decay, rng, generator, f"base config {json.dumps(asdict(config))}")
    trainer.log(f"model parameters {model.num_parameters()}")

    def evaluate() -> dict:
        if not eval_batches:  # eval_batches: 0 turns the held-out comparison off
            return {}
        comparison = compare_to_copy_last(trainer.ema.shadow, eval_batches, encoder, codec, seed=config.seed,
                                          steps=config.eval_steps)
        values = comparison.as_dict()
        trainer.log("eval " + " ".join(f"{k[5:]}={v:.4f}" for k, v in values.items()))
        return values

    # -- loop
    motion = pool.motion if uses_motion_prior(model) else None  # the true-motion table, for a motion prior
    if trainer.step == 0:
        trainer.rows.append({"step": 0, "loss": math.nan, "time_s": 0.0, **evaluate()})
    last_eval = time.time()
    while trainer.running(config.max_steps, config.max_minutes):
        lr = config.lr * min(1.0, (trainer.step + 1) / config.warmup_steps)
        lr *= 0.5 * (1 + math.cos(math.pi * min(1.0, trainer.elapsed / (config.max_minutes * 60)))) * 0.9 + 0.1
        for group in optimiser.param_groups:
            group["lr"] = lr
        choice, batch = random_batch(pool, choices, config.max_sections, config.batch_size, rng)
        cond = conditioning(encoder, batch, config.text_dropout, rng)
        loss = flow_matching_loss(model, batch, cond, generator, config.loss_target, config.time_shift, motion=motion)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        row = trainer.end_step(loss, lr=lr, grad_norm=float(grad_norm), schedule=choice.schedule, order=choice.order,
                               section=batch.plan.section)
        if time.time() - last_eval > config.eval_every_minutes * 60:
            row.update(evaluate())
            last_eval = time.time()

    # -- export
    final = evaluate()
    trainer.rows[-1].update(final)
    report = {"steps": trainer.step, "minutes": trainer.elapsed / 60, "parameters": model.num_parameters(),
              "checkpoint_bytes": None, "batch_size": config.batch_size, **final}
    report = trainer.export(report, "base model")
    trainer.log(f"report {json.dumps(report)}")
    return report


__all__ = ["BaseTrainConfig", "train_base", "build_batch", "sample_plan"]
