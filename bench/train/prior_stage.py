"""The motion prior's own training stage: only the prior learns, with its own steps, batch and rate.

Inside a fine-tune the prior shares each step with the diffusion loss (batch 8, learning rate 1e-4).
After 10 minutes it knew the lab's speeds but not the directions the prompt names: on validation
items its chance of drawing a velocity within 60° of the real direction was 0.35, where a prior that
ignores the prompt gets about 0.33 (docs/lab-models.md, "Dropped designs"). The prior needs no
transformer pass (it reads the anchors, their distances and the prompt), so a few thousand steps of
it alone take a minute or two. The stage starts from a fresh prior, so what it learns does not
depend on the main loop, and it trains the exported (EMA) model's prior, which is then saved.

    fpbench train bench/train/configs/fp_inverted.yaml                      # the fine-tune ends with it
    fpbench train bench/train/configs/fp_inverted.yaml --prior-stage-only   # only the stage, on `out`
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from bench.atomic_files import atomic_write_json
from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, TrainingBatch, plan_choices_for, random_batch
from bench.train.objective import conditioning, motion_prior_loss, true_section_motion
from framepack.discrete_history import Codebook
from framepack.kernels import K1
from framepack.lab.codec import LabCodec
from framepack.lab.context_anchor import nearest_context
from framepack.lab.model import Anchors, PackedDiT
from framepack.schedule import Schedule


def reset_prior(model: PackedDiT, seed: int) -> None:
    """Replace the model's motion prior by a freshly initialised one (seeded)."""
    device = model.motion_prior.bins.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.motion_prior = model.new_motion_prior().to(device)


def quantize_anchor_groups(batch: TrainingBatch, quantize: Callable) -> TrainingBatch:
    """+D: quantize only the history groups anchors can come from (k1, no tail mode), as the main
    loop's batches have them; the prior reads nothing else, and quantizing the whole history in
    float64 doubled the stage's time."""
    groups = []
    for piece, group in zip(batch.plan.context, batch.context, strict=True):
        if piece.role in ("history", "tail") and group.kernel == K1 and group.tail_mode is None:
            group = replace(group, latents=quantize(group.latents))
        groups.append(group)
    return replace(batch, context=groups)


def train_prior(
    model: PackedDiT,
    pool: LatentClipPool,
    choices: list[PlanChoice],
    max_sections: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    quantize: Callable | None = None,
    text_dropout: float = 0.1,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Train only `model.motion_prior` for `steps` steps on the row's own batches, every video from
    its clip's first frame as at sampling (the prompt describes that frame's motion); returns the losses.

    Every other weight is left exactly as it was (the prior's inputs do not depend on them, except
    the pooled prompt vector, which is read without being trained)."""
    if not hasattr(model, "motion_prior"):
        raise ValueError("train_prior needs a model with motion_prior: true")
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"prior stage needs steps >= 1, batch_size >= 1, lr > 0; got {steps}, {batch_size}, {lr}")
    trainable = {id(p) for p in model.motion_prior.parameters()}
    frozen = [p for p in model.parameters() if id(p) not in trainable and p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    optimiser = torch.optim.AdamW(model.motion_prior.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    encoder = model.text_encoder()
    rng = random.Random(seed)
    losses: list[float] = []
    was_training = model.training
    model.train()
    try:
        for step in range(steps):
            choice, batch = random_batch(pool, choices, max_sections, batch_size, rng, None, from_clip_start=True)
            if quantize is not None and Schedule.parse(choice.schedule).discrete_history:
                batch = quantize_anchor_groups(batch, quantize)
            truth = true_section_motion(batch, pool.motion)
            if truth is None:  # no real context (text-to-video first sections): nothing to learn from
                continue
            cond = conditioning(encoder, batch, text_dropout, rng)
            anchor, index = nearest_context(batch.target.shape, batch.noisy_indices, batch.context, batch.start_latent)
            distance = batch.noisy_indices.to(torch.float32)[None, :] - index
            velocity_logits, membership_logits = model.motion_prior_logits(anchor, index, distance, cond)
            loss = motion_prior_loss(Anchors(anchor, anchor, None, velocity_logits, membership_logits), truth)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if log is not None and (step + 1) % 250 == 0:
                log(f"prior step {step + 1} loss {sum(losses[-250:]) / len(losses[-250:]):.4f}")
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
    return losses


def load_without_prior(path: str | Path) -> PackedDiT:
    """A motion-prior checkpoint with every weight but its prior's (which may come from an earlier
    prior design); the prior is freshly initialised."""
    model = PackedDiT.load_config(path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()
             if not k.startswith("motion_prior.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("motion_prior.") for k in missing):
        raise ValueError(f"{path}: weights do not fit the model beyond its motion prior "
                         f"(missing {missing}, unexpected {unexpected})")
    return model


def stage_inputs(config, show_progress: bool = True):
    """(training pool, plan choices, history quantiser or None) of a finished fine-tune, for its
    prior stage (`bench.train.prior_stage.restage`); the +D codebook must exist."""
    codec = LabCodec.load(config.codec)
    pool = LatentClipPool.build(codec, "train", config.prior_train_clips or config.train_clips, config.clip_frames, 0,
                                config.cache_dir, config.codec, show_progress)
    quantize = Codebook.load(config.codebook).quantize if Schedule.parse(config.schedule).discrete_history else None
    return pool, plan_choices_for(config), quantize


def restage(config, show_progress: bool = True) -> dict:
    """Only the prior stage, on the checkpoint `config.out` of a finished fine-tune: its prior is
    replaced by a freshly trained one (`fpbench train CONFIG --prior-stage-only`). Returns the
    stage's summary, which is also added to the checkpoint's sidecar."""
    if config.prior_steps < 1:
        raise ValueError(f"{config.out}: prior_steps is {config.prior_steps}; the prior stage needs >= 1")
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    model = load_without_prior(out)
    started = time.time()

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        if show_progress:
            print(line, flush=True)
        with open(out.with_suffix(".log"), "a") as handle:
            handle.write(line + "\n")

    pool, choices, quantize = stage_inputs(config, show_progress)
    reset_prior(model, config.seed)
    log(f"prior stage only: {config.prior_steps} steps, batch {config.prior_batch_size}, lr {config.prior_lr}")
    losses = train_prior(model, pool, choices, config.max_sections, config.prior_steps, config.prior_batch_size,
                         config.prior_lr, config.seed, quantize, config.text_dropout, log)
    model.save(out, dtype=torch.float16)
    summary = prior_stage_summary(losses, config, time.time() - started)
    sidecar_path = out.with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
    sidecar.update(summary, checkpoint_bytes=out.stat().st_size, parameters=model.num_parameters())
    atomic_write_json(sidecar_path, sidecar)
    log(f"prior stage done {json.dumps(summary)}")
    return summary


def prior_stage_summary(losses: list[float], config, seconds: float) -> dict:
    """What the sidecar records of a prior stage."""
    head, tail = losses[: max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):]
    return {"prior_steps": config.prior_steps, "prior_batch_size": config.prior_batch_size, "prior_lr": config.prior_lr,
            "prior_loss_first_tenth": sum(head) / len(head), "prior_loss_last_tenth": sum(tail) / len(tail),
            "prior_minutes": seconds / 60}
