"""Section plans for the released FramePack models (HunyuanVideo I2V and its F1 variant).

The full-scale generator follows `framepack.section_plan.SectionPlan`s like the lab sampler.
The released checkpoints were trained on one fixed layout each:

Inverted anti-drifting (FramePackI2V_HY), schedule `f1k1_x_g9_f1k1f2k2f16k4_td`, per section
    [start 1 | gap 9·p | 9 generated | 1 post (k1) | 2 (k2) | 16 (k4)]
Vanilla (FramePack F1), schedule `f1k1_x_f16k4f2k2f1k1_g9`, per section
    [start 1 | 16 (k4) | 2 (k2) | 1 (k1) | 9 generated]

`released_plans` takes the suite's own `plan_sections` (missing="zeros") wherever it implements
that layout exactly — the inverted order without an end image, the released image-to-video
loop — and builds the plan here for the two cases whose released conventions `plan_sections`
does not follow:

* inverted with an end image: the released loop sees the end image only as the first section's
  k1 frame and numbers the zero slots after the video contiguously from the last video frame;
  `plan_sections` keeps the end image's index free, so later sections' zero-slot RoPE positions
  are one further out.
* vanilla (F1): the released loop keeps the start frame inside the 19-frame history window as
  well (so early sections see it twice: as the anchor and as history) and gives the anchor the
  RoPE position just before the oldest history frame, whatever the true distance;
  `plan_sections` puts the start frame in the anchor only, at its true time.

Frames are latent time indices (0 is the start image, 1 … window·sections the generated frames,
window·sections + 1 the end image); `None` is a zero-filled slot.
"""

from __future__ import annotations

from framepack.kernels import Kernel
from framepack.schedule import Group, Schedule
from framepack.section_plan import ContextPiece, SectionPlan, plan_sections, released_inverted_paddings

RELEASED_ORDERS = ("inverted_anti_drifting", "vanilla")
# History levels of the released models, nearest to the section first: (frames, kernel level).
HISTORY_LEVELS = ((1, 1), (2, 2), (16, 4))


def released_schedule(order: str, window: int = 9) -> str:
    """The schedule, in the paper's notation, that the released layout of `order` implements."""
    _check_order(order)
    if order == "inverted_anti_drifting":
        return f"f1k1_x_g{window}_f1k1f2k2f16k4_td"
    return f"f1k1_x_f16k4f2k2f1k1_g{window}"


def released_plans(order: str, num_sections: int, window: int = 9, has_end: bool = False) -> list[SectionPlan]:
    """The released models' section plans, in generation order.

    Args:
        order: "inverted_anti_drifting" (generates the end first) or "vanilla" (time order).
        num_sections: sections in the video (>= 1).
        window: latent frames per section (9 in the released models).
        has_end: an end image conditions the video (inverted only).
    """
    _check_order(order)
    if not isinstance(num_sections, int) or num_sections < 1:
        raise ValueError(f"num_sections must be a positive integer, got {num_sections!r}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if has_end and order != "inverted_anti_drifting":
        raise ValueError(f"an end image needs the inverted_anti_drifting order, got {order!r}")
    schedule = Schedule.parse(released_schedule(order, window))
    if order == "inverted_anti_drifting" and not has_end:
        return plan_sections(schedule, num_sections, order, has_start=True, missing="zeros")
    if order == "inverted_anti_drifting":
        return [_inverted_with_end(schedule, section, num_sections, window) for section in range(num_sections)]
    return [_vanilla(schedule, section, window) for section in range(num_sections)]


def _inverted_with_end(schedule: Schedule, step: int, num_sections: int, window: int) -> SectionPlan:
    last_frame = window * num_sections
    end_frame = last_frame + 1
    section = num_sections - 1 - step  # time order; generation runs from the end
    first = 1 + window * section
    noisy_start = 1 + window * released_inverted_paddings(num_sections)[step]
    pieces = _group_pieces(schedule)  # start anchor, then k1, k2, k4 after the section
    context = [ContextPiece(piece=pieces[0], kernel=Kernel.from_level(1), frames=(0,), positions=(0,), role="start")]
    frame, position = first + window, noisy_start + window
    for piece, (count, level) in zip(pieces[1:], HISTORY_LEVELS, strict=True):
        frames = tuple(f if f <= last_frame else None for f in range(frame, frame + count))
        role = "history"
        if step == 0 and level == 1:
            frames, role = (end_frame,), "end"  # the first section sees the end image as its k1 frame
        context.append(
            ContextPiece(piece, Kernel.from_level(level), frames, tuple(range(position, position + count)), role)
        )
        frame, position = frame + count, position + count
    return SectionPlan(
        iteration=step,
        section=section,
        generated=tuple(range(first, first + window)),
        generated_positions=tuple(range(noisy_start, noisy_start + window)),
        context=tuple(context),
    )


def _vanilla(schedule: Schedule, section: int, window: int) -> SectionPlan:
    first = 1 + window * section
    history = sum(count for count, _ in HISTORY_LEVELS)
    pieces = _group_pieces(schedule)  # start anchor, then k4, k2, k1 (time order)
    context = [ContextPiece(piece=pieces[0], kernel=Kernel.from_level(1), frames=(0,), positions=(0,), role="start")]
    frame, position = first - history, 1  # oldest history frame: true time (may be < 0), RoPE position
    for piece, (count, level) in zip(pieces[1:], reversed(HISTORY_LEVELS), strict=True):
        frames = tuple(f if f >= 0 else None for f in range(frame, frame + count))
        context.append(
            ContextPiece(piece, Kernel.from_level(level), frames, tuple(range(position, position + count)), "history")
        )
        frame, position = frame + count, position + count
    return SectionPlan(
        iteration=section,
        section=section,
        generated=tuple(range(first, first + window)),
        generated_positions=tuple(range(history + 1, history + 1 + window)),
        context=tuple(context),
    )


def _group_pieces(schedule: Schedule) -> list[int]:
    """Indices of the schedule's groups, left to right (the start anchor first in both layouts)."""
    return [index for index, piece in enumerate(schedule.pieces) if isinstance(piece, Group)]


def _check_order(order: str) -> None:
    if order not in RELEASED_ORDERS:
        raise ValueError(f"the released FramePack models sample in orders {RELEASED_ORDERS}, got {order!r}")
