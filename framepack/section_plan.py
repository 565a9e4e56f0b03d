"""Section plans: which frames each sampling iteration generates and which frames fill its context.

A plan is model-agnostic bookkeeping over latent-frame indices. The sampler loop
(`framepack_generator.py`) follows it, training recipes use it to cut training examples exactly as
the sampler will see them, and the full-scale backend can map it onto diffusers' transformer.

Timeline (latent frames)
------------------------
* With a start image (`has_start=True`) frame 0 is the user's start frame and is part of the video;
  sections then cover frames 1 … S·g. Without one, sections cover 0 … S·g − 1.
* With an end image (`has_end=True`) it sits at index `num_frames` (just after the last video frame)
  as conditioning only, as in diffusers' `last_image`: it is not a frame of the output video.

Orders
------
* `vanilla`: sections in time order.
* `anti_drifting`: the first iteration makes the start section and the end section, later
  iterations fill the gap in time order, each seeing both sides.
* `inverted_anti_drifting`: reverse time order (the released image-to-video loop). Its RoPE
  positions follow the released loop: the gap to the start frame is `p·g` frames with paddings
  p = reversed(range(S)), replaced by [3, 2, …, 2, 1, 0] when S > 4.
* `multiple_endpoints`: like anti_drifting with several planned endpoints (sections whose last frame
  is a planned frame, each with its own prompt): the first iteration makes section 0 and every
  endpoint section, later iterations fill each segment, seeing the next endpoint.

Every section is generated exactly once; within an iteration sections run in time order and each
sees everything made before it.

Which frames fill the context
-----------------------------
A section's context comes from the frames *known* when it runs (given frames plus frames already
generated): before it, every known earlier frame; after it, the known later frames up to and
including the next planned endpoint. The end image is seen only by the last section, the one next
to it (diffusers' `last_image` likewise reaches only the first inverted section). These are
distributed over the schedule's pieces by `Schedule.assign` (nearest frames to the near groups,
far frames to anchors such as the start frame, leftovers to the gap or tail).

Missing frames (before the video starts, beyond what exists yet) are handled by `missing`:
* `"zeros"` (default; what the released models do): every group is always full; slots without a
  real frame hold zero latents (`None` in the plan) at the time index they would have — beyond the
  video's ends, continuing outward. Token counts are then the same for every section, which is also
  what lets training batch examples.
* `"drop"`: groups hold only real frames; empty groups are left out (fewer tokens early on).

A `td` tail and gaps produce no context pieces; `ta` / `tc` tails list their leftover frames.

Positions (RoPE) are true time indices, shifted so each section's smallest position is 0 (RoPE is
relative, so the shift changes nothing but keeps numbers small); the inverted order additionally
shortens its start-frame gap as the released loop does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from framepack.kernels import Kernel
from framepack.schedule import Gap, Group, Schedule, Tail

ORDERS = ("vanilla", "anti_drifting", "inverted_anti_drifting", "multiple_endpoints")
MISSING_MODES = ("zeros", "drop")


@dataclass(frozen=True)
class ContextPiece:
    """One context piece of a section: one schedule group (or a ta/tc tail) and the frames filling it.

    Attributes:
        piece: index of the piece in `schedule.pieces`.
        kernel: the kernel it is packed with (for a tail, the schedule's `tail_kernel`).
        frames: latent frame index per slot, in time order; None is a zero-filled slot.
        positions: RoPE time position per slot.
        role: "start" / "end" (the user's start / end image), "history", or "tail".
        tail_mode: "ta" / "tc" for a tail piece, else None.
    """

    piece: int
    kernel: Kernel
    frames: tuple[int | None, ...]
    positions: tuple[int, ...]
    role: str
    tail_mode: str | None = None

    @property
    def real_frames(self) -> tuple[int, ...]:
        return tuple(frame for frame in self.frames if frame is not None)


@dataclass(frozen=True)
class SectionPlan:
    """What one model run does.

    Attributes:
        iteration: the sampling iteration (several sections may share one in the anti-drifting
            orders' first iteration).
        section: the section's index in time order (0 = the earliest).
        generated: latent frame indices generated, ascending.
        generated_positions: their RoPE positions.
        context: the context pieces, left to right as in the schedule.
        prompt_index: which prompt applies (multiple endpoints; 0 otherwise).
    """

    iteration: int
    section: int
    generated: tuple[int, ...]
    generated_positions: tuple[int, ...]
    context: tuple[ContextPiece, ...]
    prompt_index: int = 0

    @property
    def referenced_frames(self) -> frozenset[int]:
        """Every real frame index the context reads."""
        return frozenset(frame for piece in self.context for frame in piece.real_frames)


@dataclass(frozen=True)
class Timeline:
    """Where frames live: video frames are 0 … num_frames − 1; the end image (if any) is num_frames."""

    num_sections: int
    frames_per_section: int
    has_start: bool
    has_end: bool

    @property
    def first_generated(self) -> int:
        return 1 if self.has_start else 0

    @property
    def num_frames(self) -> int:
        """Latent frames of the output video (the start frame included)."""
        return self.first_generated + self.num_sections * self.frames_per_section

    @property
    def start_frame(self) -> int | None:
        return 0 if self.has_start else None

    @property
    def end_frame(self) -> int | None:
        return self.num_frames if self.has_end else None

    def section_frames(self, section: int) -> tuple[int, ...]:
        first = self.first_generated + section * self.frames_per_section
        return tuple(range(first, first + self.frames_per_section))

    @property
    def given_frames(self) -> tuple[int, ...]:
        return tuple(frame for frame in (self.start_frame, self.end_frame) if frame is not None)


def released_inverted_paddings(num_sections: int) -> list[int]:
    """The released inverted loop's start-gap sizes, in sections, in generation order."""
    if num_sections > 4:
        return [3] + [2] * (num_sections - 3) + [1, 0]
    return list(reversed(range(num_sections)))


def default_endpoints(num_sections: int, num_prompts: int) -> tuple[int, ...]:
    """Endpoint sections splitting the video into `num_prompts` near-equal segments; the last
    section is always an endpoint."""
    if not 1 <= num_prompts <= num_sections:
        raise ValueError(f"num_prompts must be in [1, num_sections={num_sections}], got {num_prompts}")
    return tuple(sorted({round((i + 1) * num_sections / num_prompts) - 1 for i in range(num_prompts)}))


def plan_sections(
    schedule: Schedule | str,
    num_sections: int,
    order: str,
    *,
    has_start: bool = False,
    has_end: bool = False,
    missing: str = "zeros",
    endpoints: Sequence[int] | None = None,
) -> list[SectionPlan]:
    """Plan every section of a video, in generation order.

    Args:
        schedule: a `Schedule` or its notation string.
        num_sections: S >= 1.
        order: one of ORDERS.
        has_start: the video starts with a given start frame (frame 0; image-to-video).
        has_end: an end image conditions the video (index `num_frames`, not output).
        missing: "zeros" (groups always full, absent frames zero-filled; default) or "drop".
        endpoints: sections (time order) whose last frame is a planned endpoint. Only for the
            anti-drifting orders; defaults to (S − 1,) for anti_drifting. multiple_endpoints needs
            them (see `default_endpoints`). Endpoint k's segment — sections after endpoint k − 1 up
            to endpoint k — uses prompt k; sections after the last endpoint use the last prompt.

    Returns:
        One `SectionPlan` per section, in the order they are generated.
    """
    if isinstance(schedule, str):
        schedule = Schedule.parse(schedule)
    if not isinstance(num_sections, int) or num_sections < 1:
        raise ValueError(f"num_sections must be a positive integer, got {num_sections!r}")
    if order not in ORDERS:
        raise ValueError(f"unknown section order {order!r}; expected one of {ORDERS}")
    if missing not in MISSING_MODES:
        raise ValueError(f"unknown missing-frame mode {missing!r}; expected one of {MISSING_MODES}")
    timeline = Timeline(num_sections, schedule.frames_per_section, has_start, has_end)
    ends = _resolve_endpoints(order, num_sections, endpoints)
    runs = _generation_order(order, num_sections, ends)
    paddings = released_inverted_paddings(num_sections) if order == "inverted_anti_drifting" else None

    known: set[int] = set(timeline.given_frames)
    plans = []
    for position, (iteration, section) in enumerate(runs):
        generated = timeline.section_frames(section)
        before = sorted((f for f in known if f < generated[0]), reverse=True)
        limit = _after_limit(section, ends, timeline)
        after = sorted(f for f in known if generated[-1] < f <= limit)
        gap_cap = paddings[position] * timeline.frames_per_section if paddings is not None else None
        plans.append(
            _plan_one(schedule, timeline, iteration, section, generated, before, after, missing, gap_cap,
                      _prompt_index(section, ends))
        )
        known.update(generated)
    return plans


def last_uses(plans: Sequence[SectionPlan]) -> dict[int, int]:
    """For every real frame any plan reads: the index (in `plans`) of the last plan reading it.

    A sampler may drop a frame's latent once that plan has run; this is what keeps its history
    buffer bounded.
    """
    last: dict[int, int] = {}
    for index, plan in enumerate(plans):
        for frame in plan.referenced_frames:
            last[frame] = index
    return last


# -- internals ------------------------------------------------------------------------------------


def _resolve_endpoints(order: str, num_sections: int, endpoints: Sequence[int] | None) -> tuple[int, ...]:
    if order in ("vanilla", "inverted_anti_drifting"):
        if endpoints:
            raise ValueError(f"endpoints are only used by the anti-drifting orders, not {order!r}")
        return ()
    if endpoints is None:
        if order == "multiple_endpoints":
            raise ValueError("the multiple_endpoints order needs `endpoints` (e.g. from default_endpoints)")
        endpoints = (num_sections - 1,)
    ends = tuple(sorted(set(endpoints)))
    if not ends or any(not isinstance(e, int) or not 0 <= e < num_sections for e in ends):
        raise ValueError(f"endpoints must be section indices in [0, {num_sections}), got {list(endpoints)}")
    return ends


def _generation_order(order: str, num_sections: int, ends: tuple[int, ...]) -> list[tuple[int, int]]:
    """(iteration, section) pairs in generation order."""
    if order == "vanilla":
        return [(s, s) for s in range(num_sections)]
    if order == "inverted_anti_drifting":
        return [(i, num_sections - 1 - i) for i in range(num_sections)]
    first = sorted({0, *ends})
    rest = [s for s in range(num_sections) if s not in first]
    return [(0, s) for s in first] + [(i + 1, s) for i, s in enumerate(rest)]


def _after_limit(section: int, ends: tuple[int, ...], timeline: Timeline) -> int:
    """Largest frame index a section may see after itself: the next endpoint's planned frame, else
    the video's last frame; the end image only for the last section, which touches it (as
    diffusers' `last_image` reaches only the first inverted section)."""
    later = [e for e in ends if e > section]
    if later:
        return timeline.section_frames(later[0])[-1]
    if section == timeline.num_sections - 1:
        return timeline.num_frames  # the end image's index
    return timeline.num_frames - 1


def _prompt_index(section: int, ends: tuple[int, ...]) -> int:
    for index, end in enumerate(ends):
        if section <= end:
            return index
    return max(len(ends) - 1, 0)


def _outward_virtual(direction: int, timeline: Timeline, sees_end: bool) -> Iterator[int]:
    """Time indices of zero-filled slots: beyond the video's ends (and the end image if the section
    sees it), going outward."""
    index = -1 if direction < 0 else timeline.num_frames + int(sees_end)
    while True:
        yield index
        index += direction


def _outward(schedule: Schedule, direction: int) -> list[int]:
    """Piece indices on one side of the generated block (-1 before, +1 after), nearest first."""
    centre = schedule.generated_index
    if direction < 0:
        return list(range(centre - 1, -1, -1))
    return list(range(centre + 1, len(schedule.pieces)))


class _Virtual(int):
    """A zero-filled slot, identified by the time index outside the video it stands at."""


def _plan_one(
    schedule: Schedule,
    timeline: Timeline,
    iteration: int,
    section: int,
    generated: tuple[int, ...],
    before: list[int],
    after: list[int],
    missing: str,
    gap_cap: int | None,
    prompt_index: int,
) -> SectionPlan:
    filled: list[list[int]] = [list(frames) for frames in schedule.assign(before, after)]
    if missing == "zeros":
        _pad_groups(schedule, timeline, filled, sees_end=timeline.end_frame in after)

    # RoPE positions are true time; the inverted order moves the pieces beyond its start gap
    # closer so that the gap holds `gap_cap` frames.
    beyond_gap = _beyond_first_gap_before(schedule)
    shift = _before_gap_excess(schedule, filled, generated, beyond_gap, gap_cap) if gap_cap is not None else 0

    raw: list[tuple[int, Kernel, list[int], str, str | None]] = []
    for index, piece in enumerate(schedule.pieces):
        frames = filled[index]
        if not frames:
            continue
        if isinstance(piece, Group):
            raw.append((index, piece.kernel, frames, _role(frames, timeline), None))
        elif isinstance(piece, Tail) and piece.mode != "td":
            raw.append((index, schedule.tail_kernel, frames, "tail", piece.mode))

    def positions_of(index: int, frames: list[int]) -> list[int]:
        return [int(f) + (shift if index in beyond_gap else 0) for f in frames]

    offset = min([generated[0], *(min(positions_of(index, frames)) for index, _, frames, _, _ in raw)])
    context = tuple(
        ContextPiece(
            piece=index,
            kernel=kernel,
            frames=tuple(None if isinstance(f, _Virtual) else int(f) for f in frames),
            positions=tuple(p - offset for p in positions_of(index, frames)),
            role=role,
            tail_mode=tail_mode,
        )
        for index, kernel, frames, role, tail_mode in raw
    )
    return SectionPlan(
        iteration=iteration,
        section=section,
        generated=generated,
        generated_positions=tuple(f - offset for f in generated),
        context=context,
        prompt_index=prompt_index,
    )


def _role(frames: list[int], timeline: Timeline) -> str:
    real = {int(f) for f in frames if not isinstance(f, _Virtual)}
    if real and real == {timeline.start_frame}:
        return "start"
    if real and real == {timeline.end_frame}:
        return "end"
    return "history"


def _pad_groups(schedule: Schedule, timeline: Timeline, filled: list[list[int]], sees_end: bool) -> None:
    """Fill every group to capacity with zero slots beyond the video, outward per side: the near
    groups first, so their zero slots continue the real history contiguously (past the end image
    when this section sees it, else from the video's last frame on, as the released loop does)."""
    for direction in (-1, +1):
        virtual = _outward_virtual(direction, timeline, sees_end)
        for index in _outward(schedule, direction):
            piece = schedule.pieces[index]
            if not isinstance(piece, Group):
                continue
            frames = filled[index]
            while len(frames) < piece.frames:
                frames.append(_Virtual(next(virtual)))
            frames.sort(key=int)


def _beyond_first_gap_before(schedule: Schedule) -> set[int]:
    """Pieces before the section that lie beyond its first gap (anchors such as the start frame)."""
    beyond: set[int] = set()
    passed_gap = False
    for index in _outward(schedule, -1):
        if isinstance(schedule.pieces[index], Gap):
            passed_gap = True
        elif passed_gap:
            beyond.add(index)
    return beyond


def _before_gap_excess(
    schedule: Schedule, filled: list[list[int]], generated: tuple[int, ...], beyond: set[int], gap_cap: int
) -> int:
    """How far the pieces beyond the before-side gap move toward the section so that the gap
    spans `gap_cap` frames (never apart: a gap already narrower stays as it is)."""
    farther = [int(f) for index in beyond for f in filled[index]]
    if not farther:
        return 0
    nearer = [
        int(f)
        for index in _outward(schedule, -1)
        if index not in beyond and not isinstance(schedule.pieces[index], Gap)
        for f in filled[index]
    ]
    true_gap = min([generated[0], *nearer]) - max(farther) - 1
    return max(true_gap - gap_cap, 0)
