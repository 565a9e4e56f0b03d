"""FramePack fine-tunes from the base model (`fpbench train bench/train/configs/fp_*.yaml`).

One recipe for every variant: any schedule in the paper's notation and any sampling order. Training
batches are cut by the section plans of that schedule and order (`bench.train.examples`), so the
model is trained on exactly what the sampler will feed it. Kernels the base model lacks get new
patch embeddings initialised from its k1 embedding (repeat and divide, as the released model does).
`+D` schedules quantise the history with a K-means codebook fitted on the training latents.

Multi-process training uses torch.distributed (DDP, gloo on the CPU): every rank draws the same
global batch (same seed) and trains on its shard, so N processes give the same averaged gradients
as one process with the same global batch.

Outputs beside `out`: `<out>.json` (schedule, order, codec, codebook: what `fpbench generate` and the
grids need), `.log`, `_loss.parquet`, `_loss.png`; the resumable state lives in `run_dir/last.pt`.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from bench.train.common import new_lab_model, seed_everything
from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, TrainingBatch, default_order, plan_choices_for, random_batch
from bench.train.objective import (
    compare_to_copy_last,
    conditioning,
    flow_matching_loss_at,
    sample_times,
    uses_motion_prior,
)
from bench.train.prior_stage import prior_stage_summary, reset_prior, stage_inputs, train_prior
from bench.train.trainer import Trainer
from framepack.discrete_history import Codebook
from framepack.kernels import K1
from framepack.lab.codec import LabCodec
from framepack.lab.model import PackedDiT, PackedDiTConfig
from framepack.lab.text_encoder import LabConditioning
from framepack.schedule import Schedule


@dataclass
class FinetuneConfig:
    """FramePack fine-tune settings (all keys of the YAML file).

    Args:
        schedule: the packing schedule in the paper's notation (`+D` for discrete history).
        order: sampling order; default: the schedule's form (vanilla for custom forms).
        out: exported EMA checkpoint (float16 safetensors).
        run_dir: resumable state.
        cache_dir: latent pool cache (shared with the base run).
        base: the pretrained base checkpoint to start from (None: train from scratch with `model`).
        model: `PackedDiTConfig` keys, used only when `base` is None.
        model_overrides: `PackedDiTConfig` keys changed from the base's (e.g. `motion_prior: true`
            adds a motion prior); weights the base lacks start from their init.
        codec: codec checkpoint.
        codebook: +D codebook file; fitted on the training latents and written there if absent.
        codebook_size: K of the K-means codebook.
        has_start: videos start from a given frame (image-to-video); t2v_fraction of batches have none.
        max_sections, train_clips, clip_frames, heldout_clips: data (see the base recipe).
        batch_size: GLOBAL batch (split across DDP ranks; must divide by the world size).
        lr, warmup_steps, weight_decay, grad_clip, loss_target, time_shift, text_dropout: optimisation.
        prior_weight: (models with `motion_prior: true`) weight of the motion prior's loss
            (`bench.train.objective.motion_prior_loss`); such models always move their anchors by
            the world's section motion in training.
        prior_steps, prior_batch_size, prior_lr: (models with `motion_prior: true`) the prior stage at
            the end (`bench.train.prior_stage`): a fresh prior trained alone for that many steps; 0
            skips it.
        prior_train_clips: training clips of the prior stage (None: `train_clips`). Its videos all
            start at their clip's first frame, so a few hundred clips are a few hundred start
            frames, which the prior learns by heart.
        prior_lr_scale: learning-rate factor for the motion prior's parameters (new in a fine-tune
            from a base without one, so they need to move faster than the adapted backbone).
        max_minutes, max_steps: budget (first reached; minutes count across resumes).
        ema_decay: saved weight average.
        eval_batches, eval_batch_size, eval_steps: held-out copy-last-frame comparison at the end.
        checkpoint_every_minutes: resumable-state period.
        seed, threads: determinism and torch CPU threads (per process).
    """

    schedule: str
    order: str | None = None
    out: str = "results/checkpoints/fp.safetensors"
    run_dir: str = "runs/fp"
    cache_dir: str = "runs/cache"
    base: str | None = "results/checkpoints/base.safetensors"
    model: dict | None = None
    model_overrides: dict | None = None
    codec: str = "results/checkpoints/codec.safetensors"
    codebook: str | None = None
    codebook_size: int = 128
    has_start: bool = True
    t2v_fraction: float = 0.0
    max_sections: int = 12
    train_clips: int = 400
    clip_frames: int = 110
    heldout_clips: int = 32
    batch_size: int = 8
    lr: float = 2e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    loss_target: str = "preconditioned"
    time_shift: float = 1.0
    text_dropout: float = 0.1
    prior_weight: float = 1.0
    prior_lr_scale: float = 1.0
    prior_steps: int = 0
    prior_batch_size: int = 32
    prior_lr: float = 1e-3
    prior_train_clips: int | None = None
    max_minutes: float = 12.0
    max_steps: int = 1_000_000
    ema_decay: float = 0.995
    eval_batches: int = 2
    eval_batch_size: int = 8
    eval_steps: int = 8
    checkpoint_every_minutes: float = 3.0
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        schedule = Schedule.parse(self.schedule)  # NotationError (a ValueError) names the position
        if self.order is None:
            self.order = default_order(schedule)
        if schedule.discrete_history and self.codebook is None:
            raise ValueError(f"schedule {self.schedule} has +D: set `codebook:` to a codebook path (fitted if absent)")
        if self.base is None and self.model is None:
            raise ValueError("set `base:` (a checkpoint) or `model:` (PackedDiTConfig keys to train from scratch)")
        if self.prior_steps < 0 or self.prior_batch_size < 1 or self.prior_lr <= 0:
            raise ValueError(f"prior_steps must be >= 0, prior_batch_size >= 1 and prior_lr > 0, got "
                             f"{self.prior_steps}, {self.prior_batch_size}, {self.prior_lr}")
        if self.prior_lr_scale <= 0 or self.prior_weight < 0:
            raise ValueError(f"prior_lr_scale must be > 0 and prior_weight >= 0, got {self.prior_lr_scale} and {self.prior_weight}")
        if not 0 <= self.t2v_fraction <= 1:
            raise ValueError(f"t2v_fraction must be in [0, 1], got {self.t2v_fraction}")


def with_overrides(base: PackedDiT, overrides: dict, codec: LabCodec) -> PackedDiT:
    """`base` rebuilt with some `PackedDiTConfig` keys changed, keeping every weight it has; new
    modules keep their initialisation, and a new warped anchor takes the codec's basis."""
    config = PackedDiTConfig.from_dict({**base.config.to_dict(), **overrides})
    model = PackedDiT(config)
    _, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"model_overrides {overrides} drop weights the base has: {unexpected}")
    if config.motion_prior and not base.config.motion_prior:
        model.pixel_view.copy_from_codec(codec)
    return model


def model_for_schedule(base: PackedDiT, schedule: Schedule) -> PackedDiT:
    """`base`, extended with patch embeddings for the schedule's kernels it lacks (from its k1)."""
    have = set(base.config.kernel_objects())
    needed = [k for k in (*schedule.kernels, schedule.tail_kernel) if k not in have]
    if not needed:
        return base
    config = PackedDiTConfig.from_dict({**base.config.to_dict(), "kernels": [*base.config.kernels, *map(str, needed)]})
    model = PackedDiT(config)
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"base checkpoint has weights the extended model lacks: {unexpected}")
    k1 = model.context_embeddings[K1.key]
    for kernel in needed:
        model.context_embeddings[kernel.key].init_from_k1(k1)
    return model


def shard_batch(batch: TrainingBatch, cond: LabConditioning, rank: int, world: int) -> tuple[TrainingBatch, LabConditioning]:
    """This rank's equal share of a global batch (and its conditioning)."""
    size = batch.target.shape[0]
    if size % world:
        raise ValueError(f"global batch {size} does not divide by {world} processes")
    part = slice(rank * size // world, (rank + 1) * size // world)
    from framepack.packed_group import PackedGroup

    context = [PackedGroup(g.latents[part], g.frame_indices, g.kernel, None if g.timesteps is None else g.timesteps[part],
                           g.tail_mode) for g in batch.context]
    sharded = TrainingBatch(
        target=batch.target[part],
        noisy_indices=batch.noisy_indices,
        context=context,
        prompts=batch.prompts[part],
        start_latent=None if batch.start_latent is None else batch.start_latent[part],
        last_context=None if batch.last_context is None else batch.last_context[part],
        plan=batch.plan,
        clip_ids=None if batch.clip_ids is None else batch.clip_ids[part],
        target_frames=None if batch.target_frames is None else batch.target_frames[part],
        nearest_frames=None if batch.nearest_frames is None else batch.nearest_frames[part],
    )
    image = None if cond.image_latent is None else cond.image_latent[part]
    return sharded, LabConditioning(cond.text_ids[part], cond.text_mask[part], image)


def held_out_batches(heldout: LatentClipPool, choice: PlanChoice, schedule: Schedule, config: FinetuneConfig,
                     quantize=None) -> list:
    """The fixed held-out batches of the copy-last comparison (seeded by `config.seed`).

    Each has a real context frame to copy. A ta/tc tail only exists in sections with long enough
    history, so for those schedules every batch has one; otherwise the comparison could not tell
    the tail modes apart.
    """
    rng = random.Random(config.seed + 1)
    needs_tail = schedule.tail_mode in ("ta", "tc")
    batches = []
    for _ in range(1000 * max(1, config.eval_batches)):
        if len(batches) == config.eval_batches:
            return batches
        _, batch = random_batch(heldout, [choice], config.max_sections, config.eval_batch_size, rng, quantize)
        has_tail = any(group.tail_mode for group in batch.context)
        if batch.last_context is not None and (has_tail or not needs_tail):
            batches.append(batch)
    raise ValueError(f"no held-out section of {schedule} with {config.max_sections} sections has "
                     f"{'a tail and ' if needs_tail else ''}a real context frame; raise max_sections")


def fit_codebook(pool: LatentClipPool, size: int, seed: int) -> Codebook:
    """K-means codebook over the latent pixels of (a seeded sample of) the training pool."""
    generator = torch.Generator().manual_seed(seed)
    clips = torch.randperm(len(pool), generator=generator)[: min(len(pool), 64)]
    return Codebook.fit(pool.latents[clips].float(), size, seed=seed)


def train_finetune(config: FinetuneConfig, show_progress: bool = True, adapt_model=None) -> dict:
    """Fine-tune one FramePack variant (resuming from `run_dir` if a state exists); returns its report.

    `adapt_model` (module -> module, default identity) wraps the model for the loss and the held-out
    comparison: a baseline's input mechanism (attention mask, history noise; `bench.train.baselines`).
    """
    adapt = adapt_model if adapt_model is not None else (lambda module: module)
    torch.set_num_threads(config.threads)
    trainer = Trainer(config.out, config.run_dir, show_progress, config.checkpoint_every_minutes)
    rank, world = trainer.rank, trainer.world
    seed_everything(config.seed)
    schedule = Schedule.parse(config.schedule)

    # -- data
    codec = LabCodec.load(config.codec)
    pool = LatentClipPool.build(codec, "train", config.train_clips, config.clip_frames, 0, config.cache_dir,
                                config.codec, show_progress and rank == 0)
    heldout = LatentClipPool.build(codec, "heldout", config.heldout_clips, config.clip_frames, 0, config.cache_dir,
                                   config.codec, show_progress and rank == 0)
    quantize = None
    if schedule.discrete_history:
        codebook_path = Path(config.codebook)
        if not codebook_path.is_file():
            if rank == 0:
                fit_codebook(pool, config.codebook_size, config.seed).save(codebook_path)
                trainer.log(f"fitted a {config.codebook_size}-word codebook → {codebook_path}")
            if world > 1:
                dist.barrier()
        quantize = Codebook.load(codebook_path).quantize
    choices = plan_choices_for(config)
    eval_batches = held_out_batches(heldout, choices[0], schedule, config, quantize)

    # -- model
    if config.base is not None:
        base = PackedDiT.load(config.base)
        if config.model_overrides:
            base = with_overrides(base, config.model_overrides, codec)
        model = model_for_schedule(base, schedule)
    else:
        model = new_lab_model(config.model, codec, config.seed)
    encoder = model.text_encoder()
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not n.startswith("motion_prior.")], "lr_scale": 1.0},
              {"params": [p for n, p in named if n.startswith("motion_prior.")], "lr_scale": config.prior_lr_scale}]
    optimiser = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.99))
    rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    trainer.start(model, optimiser, config.ema_decay, rng, generator, f"finetune config {json.dumps(asdict(config))} world={world}")
    trained = torch.nn.parallel.DistributedDataParallel(adapt(model)) if world > 1 else adapt(model)
    motion = pool.motion if uses_motion_prior(model) else None  # the true-motion table, for a motion prior

    if trainer.step == 0 and rank == 0 and config.eval_batches:
        before = compare_to_copy_last(adapt(trainer.ema.shadow), eval_batches, encoder, codec, config.seed, config.eval_steps)
        trainer.rows.append({"step": 0, "loss": math.nan, "time_s": 0.0, **before.as_dict()})
        trainer.log("eval before " + json.dumps(before.as_dict()))

    # -- loop
    while trainer.running(config.max_steps, config.max_minutes):
        lr = config.lr * min(1.0, (trainer.step + 1) / config.warmup_steps)
        for group in optimiser.param_groups:
            group["lr"] = lr * group["lr_scale"]
        # Every rank draws the same global batch, times and noise, then keeps its shard.
        _, batch = random_batch(pool, choices, config.max_sections, config.batch_size, rng, quantize)
        cond = conditioning(encoder, batch, config.text_dropout, rng)
        t = sample_times(config.batch_size, generator, config.time_shift)
        noise = torch.randn(batch.target.shape, generator=generator)
        local_batch, local_cond = shard_batch(batch, cond, rank, world)
        part = slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)
        loss = flow_matching_loss_at(trained, local_batch, local_cond, t[part], noise[part], config.loss_target,
                                     prior_weight=config.prior_weight, motion=motion)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        trainer.end_step(loss, lr=lr, section=batch.plan.section)

    # -- export
    report: dict = {"schedule": config.schedule, "order": config.order, "steps": trainer.step,
                    "minutes": trainer.elapsed / 60, "world_size": world, "batch_size": config.batch_size}
    if rank == 0:
        ema = trainer.ema.shadow
        if config.prior_steps and uses_motion_prior(model):
            started = time.time()
            reset_prior(ema, config.seed)
            trainer.log(f"prior stage: {config.prior_steps} steps, batch {config.prior_batch_size}, lr {config.prior_lr}")
            prior_pool = pool if not config.prior_train_clips else stage_inputs(config, show_progress)[0]
            losses = train_prior(ema, prior_pool, choices, config.max_sections, config.prior_steps,
                                 config.prior_batch_size, config.prior_lr, config.seed, quantize, config.text_dropout,
                                 trainer.log)
            model.motion_prior.load_state_dict(ema.motion_prior.state_dict())
            report.update(prior_stage_summary(losses, config, time.time() - started))
        if config.eval_batches:
            after = compare_to_copy_last(adapt(ema), eval_batches, encoder, codec, config.seed, config.eval_steps)
            trainer.rows[-1].update(after.as_dict())
            report.update(after.as_dict())
            trainer.log("eval after " + json.dumps(after.as_dict()))
    sidecar = {"schedule": config.schedule, "order": config.order, "codec": config.codec,
               "codebook": config.codebook if schedule.discrete_history else None, "base": config.base,
               "parameters": model.num_parameters(), "checkpoint_bytes": None, **report}
    sidecar = trainer.export(sidecar, f"fine-tune {config.schedule} ({config.order})", Path(config.out).with_suffix(".json"))
    trainer.log(f"report {json.dumps(report)}")
    return report
