"""Figure 1 analogue: a packing schedule drawn as frames and kernels, from the parsed schedule.

Time runs left to right as in the notation. Every history frame is a unit-wide column; a kernel's
token is a box over `t` frames split into its spatial token grid (ceil(h_latent / h) × ceil(w_latent / w));
the generated section is drawn at k1; a gap is a break (RoPE distance, no tokens); a tail shows a few
frames beyond the last group with what its mode does to them. Below, the token budget of every frame
column, and in the title the total against the closed-form bound (S + λ/(λ−1))·L_f.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bench.figures.style import GENERATED_COLOUR, TAIL_COLOUR, figure_style, kernel_colour
from framepack.kernels import Kernel
from framepack.schedule import Gap, Generated, Group, Schedule, Tail, tokens_per_k1_frame

TAIL_FRAMES = 3  # history frames drawn beyond the last group to show the tail mode
GAP_WIDTH = 1.5


@dataclass(frozen=True)
class LayoutBox:
    """One drawn box of the schedule diagram.

    Attributes:
        piece: index in `schedule.pieces`.
        kind: "group", "generated", "gap" or "tail".
        x: left edge (frame columns from the left of the drawing).
        width: columns it spans (frames for groups, generated and tail; GAP_WIDTH for a gap).
        frames: real frames it holds.
        kernel: the kernel its tokens use (k1 for generated frames, the tail kernel for ta/tc tails).
        tokens: tokens it contributes.
        grid: (rows, columns) of its spatial token grid per token box, or (0, 0).
        tail_mode: "td" / "ta" / "tc" for a tail box, else None.
    """

    piece: int
    kind: str
    x: float
    width: float
    frames: int
    kernel: Kernel | None
    tokens: int
    grid: tuple[int, int]
    tail_mode: str | None = None


def diagram_history(schedule: Schedule) -> int:
    """History length the diagram fills the schedule with: every history group full (anchors such as
    the start frame are always full), plus a few tail frames."""
    anchors = schedule.anchor_frames(-1) + schedule.anchor_frames(+1)
    return schedule.context_frames - anchors + (TAIL_FRAMES if schedule.tail_mode else 0)


def schedule_layout(schedule: Schedule | str, latent_hw: tuple[int, int] = (8, 8),
                    history_frames: int | None = None) -> list[LayoutBox]:
    """The boxes of the diagram, left to right, with their token counts.

    Args:
        schedule: a `Schedule` or its notation.
        latent_hw: latent (height, width); the lab codec's is (8, 8).
        history_frames: history available on each history side (default `diagram_history`).

    Returns:
        One `LayoutBox` per piece; their tokens sum to `schedule.token_count(history_frames, latent_hw)`.
    """
    if isinstance(schedule, str):
        schedule = Schedule.parse(schedule)
    history = diagram_history(schedule) if history_frames is None else history_frames
    counts = schedule.fill_counts(history)
    height, width = latent_hw
    boxes, x = [], 0.0
    for index, (piece, filled) in enumerate(zip(schedule.pieces, counts, strict=True)):
        if isinstance(piece, Group):
            kernel = piece.kernel
            grid = (math.ceil(height / kernel.h), math.ceil(width / kernel.w))
            boxes.append(LayoutBox(index, "group", x, piece.frames, filled, kernel,
                                   piece.token_count(filled, latent_hw), grid))
            x += piece.frames
        elif isinstance(piece, Generated):
            k1 = Kernel.from_level(1)
            grid = (math.ceil(height / k1.h), math.ceil(width / k1.w))
            boxes.append(LayoutBox(index, "generated", x, piece.frames, piece.frames, k1,
                                   piece.frames * tokens_per_k1_frame(latent_hw), grid))
            x += piece.frames
        elif isinstance(piece, Gap):
            boxes.append(LayoutBox(index, "gap", x, GAP_WIDTH, 0, None, 0, (0, 0)))
            x += GAP_WIDTH
        elif isinstance(piece, Tail):
            kernel = schedule.tail_kernel if piece.mode != "td" else None
            shown = max(filled, 1)
            boxes.append(LayoutBox(index, "tail", x, shown, filled, kernel, piece.token_count(filled), (0, 0),
                                   piece.mode))
            x += shown
    return boxes


def frame_token_budget(boxes: list[LayoutBox]) -> list[tuple[float, float, str]]:
    """(column centre, tokens per frame, box kind) for every frame column of the layout."""
    columns = []
    for box in boxes:
        if box.kind == "gap" or box.width <= 0:
            continue
        per_frame = box.tokens / box.width if box.width else 0.0
        for i in range(int(round(box.width))):
            columns.append((box.x + i + 0.5, per_frame, box.kind))
    return columns


def draw_schedule(schedule: Schedule | str, latent_hw: tuple[int, int] = (8, 8), lam: float = 2.0) -> Figure:
    """The Figure 1 analogue of one schedule (see the module docstring)."""
    if isinstance(schedule, str):
        schedule = Schedule.parse(schedule)
    boxes = schedule_layout(schedule, latent_hw)
    history = diagram_history(schedule)
    total = schedule.token_count(history, latent_hw)
    bound = schedule.bound(latent_hw, lam)
    frame_tokens = tokens_per_k1_frame(latent_hw)
    span = max(box.x + box.width for box in boxes)
    with figure_style():
        figure = Figure(figsize=(max(6.0, 0.28 * span + 2.0), 3.6))
        top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 1.0], "hspace": 0.08})
        narrow = 0
        for box in boxes:
            narrow = narrow + 1 if box.width < 3 else 0
            _draw_box(top, box, stagger=narrow % 2 == 0 and narrow > 0)
        top.set_xlim(-0.3, span + 0.3)
        top.set_ylim(-0.85, 1.75)
        top.set_yticks([])
        top.spines[["left", "bottom"]].set_visible(False)
        top.tick_params(bottom=False)

        columns = frame_token_budget(boxes)
        colours = [GENERATED_COLOUR if kind == "generated" else
                   (TAIL_COLOUR if kind == "tail" else kernel_colour(_compression(boxes, centre)))
                   for centre, _, kind in columns]
        heights = [tokens for _, tokens, _ in columns]  # a deleted (td) tail frame has none: no bar
        bottom.bar([c for c, _, _ in columns], heights, width=0.85, color=colours, edgecolor="none")
        bottom.axhline(frame_tokens, color="0.4", lw=0.8, ls="--")
        bottom.text(span + 0.3, frame_tokens, f" L_f = {frame_tokens}", va="center", fontsize=6, color="0.3")
        bottom.set_yscale("log", base=2)
        bottom.set_ylim(min([0.25, *(h for h in heights if h > 0)]) / 2, frame_tokens * 2.5)
        bottom.set_ylabel("tokens / frame")
        bottom.set_xlabel("frame columns (time →)")
        bottom.grid(axis="y")

        context = total - schedule.frames_per_section * frame_tokens
        figure.suptitle(
            f"{schedule}   ({schedule.form.replace('_', ' ')}, latent {latent_hw[0]}×{latent_hw[1]})\n"
            f"tokens: {total} = {schedule.frames_per_section}·L_f generated + {context} context; "
            f"bound (S + λ/(λ−1))·L_f = {bound:g} at λ={lam:g}  ({total / bound:.0%} of it)",
            fontsize=8, y=1.02)
    return figure


def _compression(boxes: list[LayoutBox], centre: float) -> int:
    for box in boxes:
        if box.x <= centre < box.x + box.width and box.kernel is not None:
            return box.kernel.compression
    return 1


def _draw_box(axis, box: LayoutBox, stagger: bool = False) -> None:
    name_y, tokens_y = (1.5, -0.62) if stagger else (1.22, -0.35)
    if box.kind == "gap":
        axis.text(box.x + box.width / 2, 0.5, "x", ha="center", va="center", fontsize=11, style="italic")
        axis.text(box.x + box.width / 2, tokens_y, "gap", ha="center", va="center", fontsize=6, color="0.3")
        for offset in (0.2, box.width - 0.2):
            axis.plot([box.x + offset - 0.1, box.x + offset + 0.1], [0.0, 1.0], color="0.5", lw=0.8)
        return
    if box.kind == "tail":
        mode = {"td": "deleted", "ta": "1 token each", "tc": "1 token for all"}
        for i in range(int(box.width)):
            axis.add_patch(Rectangle((box.x + i + 0.06, 0.06), 0.88, 0.88, fill=False, ls=":", ec="0.55", lw=0.8))
            if box.kernel is None:
                axis.plot([box.x + i + 0.2, box.x + i + 0.8], [0.2, 0.8], color="0.55", lw=0.7)
                axis.plot([box.x + i + 0.2, box.x + i + 0.8], [0.8, 0.2], color="0.55", lw=0.7)
        label = f"tail {box.tail_mode}: {mode[box.tail_mode]} ({box.tokens} tok)"
        axis.text(box.x + box.width / 2, tokens_y, label, ha="center", va="center", fontsize=6, color="0.3")
        return
    kernel = box.kernel
    colour = GENERATED_COLOUR if box.kind == "generated" else kernel_colour(kernel.compression)
    step = kernel.t if box.kind == "group" else 1
    rows, cols = box.grid
    for start in np.arange(0, box.width, step):
        wide = min(step, box.width - start)
        left = box.x + start
        axis.add_patch(Rectangle((left + 0.06, 0.06), wide - 0.12, 0.88, fc=colour, ec="white", lw=0.6, alpha=0.9))
        for r in range(1, rows):
            axis.plot([left + 0.06, left + wide - 0.06], [0.06 + 0.88 * r / rows] * 2, color="white", lw=0.4)
        for c in range(1, cols):
            axis.plot([left + 0.06 + (wide - 0.12) * c / cols] * 2, [0.06, 0.94], color="white", lw=0.4)
    name = f"g{box.width:g}" if box.kind == "generated" else f"f{box.width:g}{kernel}"
    axis.text(box.x + box.width / 2, name_y, name, ha="center", va="center", fontsize=7, weight="bold")
    axis.text(box.x + box.width / 2, tokens_y, f"{box.tokens} tok", ha="center", va="center", fontsize=6, color="0.3")
