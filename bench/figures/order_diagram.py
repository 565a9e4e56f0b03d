"""Figure 2 analogue: the section order of a sampling method, drawn from the sampler's actual plan.

`framepack.section_plan.plan_sections` is what `FramePackGenerator` follows and what training recipes
cut examples with; this figure draws its output, not a hand-made picture. One line per model run, in
generation order (labelled with the iteration and the section): the frames it generates, the frames
its context reads (coloured by kernel), frames already known but not read, and frames not made yet.
Zero-filled slots (history that does not exist yet) are counted at the line's end, with the RoPE gap
between the start frame and the section when the start frame is read on its own (the inverted order
shortens it as the released loop does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from bench.figures.style import GENERATED_COLOUR, figure_style, kernel_colour
from framepack.schedule import Schedule
from framepack.section_plan import SectionPlan, Timeline, default_endpoints, plan_sections

STATES = ("future", "known", "context", "generated")
KNOWN_COLOUR = "#D9D9D9"


@dataclass(frozen=True)
class OrderPlan:
    """A section plan with what the diagram needs around it."""

    schedule: Schedule
    order: str
    timeline: Timeline
    plans: list[SectionPlan]


def plan_for_order(schedule: Schedule | str, order: str, num_sections: int = 4, has_start: bool = True,
                   has_end: bool = False, endpoints: Sequence[int] | None = None) -> OrderPlan:
    """Plan a video exactly as `FramePackGenerator.plan` would (same function, same arguments).

    Args:
        schedule: a `Schedule` or its notation.
        order: vanilla, anti_drifting, inverted_anti_drifting or multiple_endpoints.
        num_sections: sections of the drawn video (4 keeps the picture readable).
        has_start: the video starts from a given frame (image-to-video), as the lab i2v prompts do.
        has_end: an end image conditions the video.
        endpoints: planned endpoint sections (multiple_endpoints defaults to two segments).
    """
    if isinstance(schedule, str):
        schedule = Schedule.parse(schedule)
    if order == "multiple_endpoints" and endpoints is None:
        endpoints = default_endpoints(num_sections, min(2, num_sections))
    plans = plan_sections(schedule, num_sections, order, has_start=has_start, has_end=has_end, endpoints=endpoints)
    timeline = Timeline(num_sections, schedule.frames_per_section, has_start, has_end)
    return OrderPlan(schedule, order, timeline, plans)


def order_cells(order_plan: OrderPlan) -> pd.DataFrame:
    """Every (run, frame) cell of the diagram with its state.

    Returns:
        One row per plan (generation order) and frame index: run, iteration, section, frame, state
        (future | known | context | generated), compression (the kernel's, for context cells; else 0),
        role (start / end / history / tail for context cells; else "").
    """
    timeline = order_plan.timeline
    frames = list(range(timeline.num_frames + int(timeline.has_end)))
    known = set(timeline.given_frames)
    records = []
    for run, plan in enumerate(order_plan.plans):
        read = {}
        for piece in plan.context:
            for frame in piece.real_frames:
                read[frame] = (piece.kernel.compression, piece.role)
        for frame in frames:
            if frame in plan.generated:
                state, compression, role = "generated", 0, ""
            elif frame in read:
                state, (compression, role) = "context", read[frame]
            elif frame in known:
                state, compression, role = "known", 0, ""
            else:
                state, compression, role = "future", 0, ""
            records.append({"run": run, "iteration": plan.iteration, "section": plan.section, "frame": frame,
                            "state": state, "compression": compression, "role": role})
        known.update(plan.generated)
    return pd.DataFrame(records, columns=["run", "iteration", "section", "frame", "state", "compression", "role"])


def zero_slots(plan: SectionPlan) -> int:
    """Context slots of a plan filled with zeros (no real frame exists for them yet)."""
    return sum(1 for piece in plan.context for frame in piece.frames if frame is None)


def start_gap(plan: SectionPlan) -> int | None:
    """RoPE distance, in frames, between the start frame and the generated section when the start frame
    is read on its own (the inverted order's anchor): the frames between their positions. None when
    no piece holds only the start frame."""
    starts = [max(piece.positions) for piece in plan.context if piece.role == "start"]
    if not starts:
        return None
    return max(min(plan.generated_positions) - max(starts) - 1, 0)


def draw_order(order_plan: OrderPlan) -> Figure:
    """The Figure 2 analogue of one (schedule, order) pair."""
    cells = order_cells(order_plan)
    timeline = order_plan.timeline
    runs = len(order_plan.plans)
    width = timeline.num_frames + int(timeline.has_end)
    with figure_style():
        figure = Figure(figsize=(max(6.0, 0.17 * width + 2.5), 0.42 * runs + 1.6))
        axis = figure.subplots()
        for cell in cells.itertuples():
            y = runs - 1 - cell.run
            if cell.state == "future":
                axis.add_patch(Rectangle((cell.frame + 0.08, y + 0.12), 0.84, 0.76, fill=False, ec="0.85", lw=0.5))
                continue
            colour = {"generated": GENERATED_COLOUR, "known": KNOWN_COLOUR}.get(cell.state)
            colour = colour or kernel_colour(cell.compression)
            axis.add_patch(Rectangle((cell.frame + 0.08, y + 0.12), 0.84, 0.76, fc=colour, ec="none"))
            if cell.role in ("start", "end"):
                axis.text(cell.frame + 0.5, y + 0.5, cell.role[0].upper(), ha="center", va="center", fontsize=6,
                          color="white", weight="bold")
        for run, plan in enumerate(order_plan.plans):
            notes = []
            zeros = zero_slots(plan)
            if zeros:
                notes.append(f"+{zeros} zero slots")
            gap = start_gap(plan)
            if gap:
                notes.append(f"start at RoPE gap {gap}")
            if notes:
                axis.text(width + 0.3, runs - 1 - run + 0.5, "\n".join(notes), va="center", fontsize=6,
                          color="0.35")
        for section in range(timeline.num_sections + 1):
            edge = timeline.first_generated + section * timeline.frames_per_section
            axis.axvline(edge, color="0.55", lw=0.6, ls=":")
        axis.set_xlim(0, width + 6.5)
        axis.set_ylim(0, runs)
        labels = [f"iter {plan.iteration} · section {plan.section}" for plan in order_plan.plans]
        axis.set_yticks([runs - 1 - r + 0.5 for r in range(runs)], labels)
        axis.set_xlabel("latent frame (time →)" + ("; S = start frame" if timeline.has_start else "")
                        + ("; E = end image" if timeline.has_end else ""))
        axis.spines[["left"]].set_visible(False)
        axis.tick_params(left=False)
        compressions = sorted(set(cells.loc[cells["state"] == "context", "compression"]))
        handles = [Patch(color=GENERATED_COLOUR, label="generated in this run")]
        handles += [Patch(color=kernel_colour(c), label=f"context, {c}× compressed" if c > 1 else "context, k1")
                    for c in compressions]
        handles += [Patch(color=KNOWN_COLOUR, label="known, not read"),
                    Patch(fill=False, ec="0.7", label="not generated yet")]
        axis_height = figure.get_figheight() * axis.get_position().height  # inches
        axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.45 / axis_height),
                    ncol=min(len(handles), 4), frameon=False)
        axis.set_title(f"{order_plan.order.replace('_', ' ')} order — {order_plan.schedule}, "
                       f"{timeline.num_sections} sections of {timeline.frames_per_section} latent frames "
                       f"(plan_sections, as the sampler runs it)")
    return figure
