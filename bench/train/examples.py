"""Training examples cut exactly as the sampler sees them.

A section plan (`framepack.section_plan.plan_sections`) says which frames a sampling iteration
generates and which frames fill each context piece, with their RoPE positions. A training example
applies one plan to a world clip: the generated frames become the diffusion target, the context
pieces become clean `PackedGroup`s. All examples of a batch share one plan, so their context has the
same shape; each example reads a different clip at a different time offset.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from bench.train.data import LatentClipPool
from framepack.packed_group import PackedGroup
from framepack.schedule import Schedule
from framepack.section_plan import SectionPlan, plan_sections


@dataclass
class TrainingBatch:
    """One batch of examples sharing a section plan.

    Attributes:
        target: (B, C, g, h, w) clean latents of the generated frames.
        noisy_indices: (g,) RoPE positions of the generated frames.
        context: clean context pieces in schedule order.
        prompts: the clips' prompts.
        start_latent: (B, C, h, w) the video's first frame when the plan has a start frame, else None.
        last_context: (B, C, g, h, w) the copy-last-frame baseline: every generated frame replaced by
            the real context frame nearest in time (None when the context holds no real frame).
        plan: the plan the batch follows.
        clip_ids: (B,) pool clips the examples read.
        target_frames, nearest_frames: (B, g) clip frame numbers of the generated frames and of
            the real context frame nearest each (the copy-last frames); None without real context.
    """

    target: torch.Tensor
    noisy_indices: torch.Tensor
    context: list[PackedGroup]
    prompts: list[str]
    start_latent: torch.Tensor | None
    last_context: torch.Tensor | None
    plan: SectionPlan
    clip_ids: torch.Tensor | None = None
    target_frames: torch.Tensor | None = None
    nearest_frames: torch.Tensor | None = None


@dataclass(frozen=True)
class PlanChoice:
    """How one schedule is trained: its sampling order and whether videos start from a given frame."""

    schedule: str
    order: str
    has_start: bool = True
    has_end: bool = False
    weight: float = 1.0


def default_order(schedule: Schedule) -> str:
    """The sampling order a schedule's form implies."""
    return {"anti_drifting": "anti_drifting", "inverted_anti_drifting": "inverted_anti_drifting"}.get(
        schedule.form, "vanilla"
    )


def sample_plan(choices: Sequence[PlanChoice], max_sections: int, rng: random.Random) -> tuple[PlanChoice, SectionPlan, int]:
    """Draw a (choice, section plan, video frame count): a weighted schedule, a video length of
    1 … max_sections sections and one of its sections."""
    choice = rng.choices(list(choices), weights=[c.weight for c in choices])[0]
    num_sections = rng.randint(1, max_sections)
    plans = plan_sections(choice.schedule, num_sections, choice.order, has_start=choice.has_start, has_end=choice.has_end)
    plan = rng.choice(plans)
    schedule = Schedule.parse(choice.schedule)
    num_frames = (1 if choice.has_start else 0) + num_sections * schedule.frames_per_section
    return choice, plan, num_frames


def build_batch(
    pool: LatentClipPool,
    plan: SectionPlan,
    video_frames: int,
    clip_ids: Sequence[int],
    offsets: Sequence[int],
    has_start: bool,
    quantize_history: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> TrainingBatch:
    """Apply `plan` to clips `clip_ids` of the pool, video frame i being clip frame offsets[b] + i.

    Args:
        pool: the latent clips.
        plan: a section plan of a video with `video_frames` frames (end image at index video_frames).
        clip_ids, offsets: which clip each example reads and where its video starts in it.
        has_start: the plan's video starts with a given frame (its latent is returned as start_latent).
        quantize_history: applied to history and tail context latents (discrete history, +D).
    """
    latents = pool.latents
    clip_frames = latents.shape[2]
    ids = torch.as_tensor(list(clip_ids), dtype=torch.long)
    offs = torch.as_tensor(list(offsets), dtype=torch.long)
    if int(offs.max()) + video_frames >= clip_frames + 1 or int(offs.min()) < 0:
        raise ValueError(f"offsets {list(offsets)} + {video_frames} frames do not fit clips of {clip_frames} frames")

    def gather(frames: Sequence[int | None]) -> torch.Tensor:
        """(B, C, F, h, w) latents at video frames (None → zeros)."""
        out = latents.new_zeros((len(ids), latents.shape[1], len(frames), *latents.shape[3:]), dtype=torch.float32)
        for slot, frame in enumerate(frames):
            if frame is None or frame < 0 or frame > video_frames:
                continue  # zero-filled slot beyond the video
            out[:, :, slot] = latents[ids, :, offs + frame].float()
        return out

    target = gather(plan.generated)
    context = []
    real_frames: list[int] = []
    for piece in plan.context:
        frames = [None if f is None or f < 0 or f > video_frames else int(f) for f in piece.frames]
        group_latents = gather(frames)
        if quantize_history is not None and piece.role in ("history", "tail"):
            group_latents = quantize_history(group_latents)
        context.append(
            PackedGroup(
                latents=group_latents,
                frame_indices=torch.tensor(piece.positions, dtype=torch.long),
                kernel=piece.kernel,
                tail_mode=piece.tail_mode,
            )
        )
        real_frames += [f for f in frames if f is not None]
    start_latent = gather([0])[:, :, 0] if has_start else None
    last_context = target_frames = nearest_frames = None
    if real_frames:
        nearest = [min(real_frames, key=lambda f, g=g: (abs(f - g), f)) for g in plan.generated]
        last_context = gather(nearest)
        target_frames = offs[:, None] + torch.tensor(plan.generated, dtype=torch.long)[None, :]
        nearest_frames = offs[:, None] + torch.tensor(nearest, dtype=torch.long)[None, :]
    return TrainingBatch(
        target=target,
        noisy_indices=torch.tensor(plan.generated_positions, dtype=torch.long),
        context=context,
        prompts=[pool.prompts[i] for i in ids.tolist()],
        start_latent=start_latent,
        last_context=last_context,
        plan=plan,
        clip_ids=ids,
        target_frames=target_frames,
        nearest_frames=nearest_frames,
    )


def random_batch(
    pool: LatentClipPool,
    choices: Sequence[PlanChoice],
    max_sections: int,
    batch_size: int,
    rng: random.Random,
    quantize_history: Callable[[torch.Tensor], torch.Tensor] | None = None,
    from_clip_start: bool = False,
) -> tuple[PlanChoice, TrainingBatch]:
    """A batch for a randomly drawn plan, clips and time offsets (all from `rng`); with
    `from_clip_start` every video starts at its clip's first frame, the frame its prompt describes
    (a drift "to the right" may have turned at a wall by a later frame)."""
    choice, plan, video_frames = sample_plan(choices, max_sections, rng)
    room = pool.clip_frames - video_frames - (1 if choice.has_end else 0)
    if room < 0:
        raise ValueError(
            f"clips of {pool.clip_frames} frames are too short for {max_sections} sections of {choice.schedule}"
        )
    clip_ids = [rng.randrange(len(pool)) for _ in range(batch_size)]
    offsets = [0 if from_clip_start else rng.randint(0, room) for _ in range(batch_size)]
    quantize = quantize_history if Schedule.parse(choice.schedule).discrete_history else None
    return choice, build_batch(pool, plan, video_frames, clip_ids, offsets, choice.has_start, quantize)


def plan_choices_for(config) -> list[PlanChoice]:
    """The section plans a fine-tune (`bench.train.finetune.FinetuneConfig`) trains on: its schedule
    and order, image-to-video, and text-to-video for `t2v_fraction` of the batches."""
    choices = [PlanChoice(config.schedule, config.order, has_start=config.has_start, weight=1 - config.t2v_fraction)]
    if config.t2v_fraction > 0:
        choices.append(PlanChoice(config.schedule, config.order, has_start=False, weight=config.t2v_fraction))
    return choices
