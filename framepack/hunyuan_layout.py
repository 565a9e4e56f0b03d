"""The released FramePack section layouts (HunyuanVideo I2V model and its F1 variant).

The released checkpoints were trained on one fixed layout each, and reproducing them needs three
conventions that the lab section plans (`framepack.section_plan`) do not use:

* every context group is always full: history that does not exist yet (beyond the video's end
  in the inverted order, before its start in the vanilla order) is fed as ZERO latents;
* RoPE positions are the released ones, not true time: the vanilla (F1) layout puts the start
  frame right before its 19 history frames whatever the real distance, and the inverted layout
  caps the start-frame gap at 3 sections once a video has more than 4 sections
  (paddings [3, 2, …, 2, 1, 0]);
* with an end image, the first inverted section sees it in place of the k1 frame after it.

Inverted anti-drifting, schedule `f1k1_x_g9_f1k1f2k2f16k4_td`, per section:
    [start 1 | gap 9·p | 9 generated | 1 post (k1) | 2 (k2) | 16 (k4)]
Vanilla (F1), schedule `f1k1_x_f16k4f2k2f1k1_g9`, per section:
    [start 1 | 16 (k4) | 2 (k2) | 1 (k1) | 9 generated]

Frames are named by their true latent time: 0 is the start image, 1 … window·sections the
generated frames; `None` marks a zero-filled frame.
"""

from __future__ import annotations

from dataclasses import dataclass

RELEASED_ORDERS = ("inverted_anti_drifting", "vanilla")
HISTORY_LEVELS = ((1, (1, 2, 2)), (2, (2, 4, 4)), (16, (4, 8, 8)))  # (frames, kernel) nearest first


@dataclass(frozen=True)
class LayoutGroup:
    """One context group: which true-time frames fill it (None = zeros) and their RoPE indices."""

    kernel: tuple[int, int, int]
    frames: tuple[int | None, ...]
    rope_indices: tuple[int, ...]


@dataclass(frozen=True)
class SectionLayout:
    """What one section generates and what it sees, in the transformer's group order."""

    generated: tuple[int, ...]  # true latent times generated, ascending
    noisy_rope_indices: tuple[int, ...]
    context: tuple[LayoutGroup, ...]  # start frame first, then history nearest first
    uses_end_image: bool = False  # the k1 history frame is the end image (first inverted section)


def released_schedule(order: str, window: int = 9) -> str:
    """The schedule, in the paper's notation, that the released layout of `order` implements."""
    _check_order(order)
    if order == "inverted_anti_drifting":
        return f"f1k1_x_g{window}_f1k1f2k2f16k4_td"
    return f"f1k1_x_f16k4f2k2f1k1_g{window}"


def inverted_paddings(num_sections: int) -> list[int]:
    """Start-frame gap, in sections, of each inverted section in generation order."""
    if num_sections > 4:
        return [3] + [2] * (num_sections - 3) + [1, 0]
    return list(reversed(range(num_sections)))


def section_layout(order: str, section: int, num_sections: int, window: int = 9, end_image: bool = False) -> SectionLayout:
    """The released layout of section `section` (0-based, generation order) of `num_sections`.

    Args:
        order: "inverted_anti_drifting" (generates the end first) or "vanilla" (time order).
        section: which section, in generation order.
        num_sections: sections in the video.
        window: latent frames per section (9 in the released models).
        end_image: the video has an end image (inverted only).
    """
    _check_order(order)
    if not 0 <= section < num_sections:
        raise ValueError(f"section must be in [0, {num_sections}), got {section}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if end_image and order != "inverted_anti_drifting":
        raise ValueError(f"an end image needs the inverted_anti_drifting order, got {order!r}")
    last_time = window * num_sections  # the last generated latent frame
    if order == "inverted_anti_drifting":
        first = 1 + window * (num_sections - 1 - section)
        generated = tuple(range(first, first + window))
        noisy_start = 1 + window * inverted_paddings(num_sections)[section]
        rope = noisy_start + window  # the first history frame's RoPE index
        time = generated[-1] + 1  # its true time
        start = LayoutGroup((1, 2, 2), (0,), (0,))
        groups = [start]
        for frames, kernel in HISTORY_LEVELS:
            times = tuple(t if t <= last_time else None for t in range(time, time + frames))
            groups.append(LayoutGroup(kernel, times, tuple(range(rope, rope + frames))))
            rope, time = rope + frames, time + frames
        return SectionLayout(
            generated=generated,
            noisy_rope_indices=tuple(range(noisy_start, noisy_start + window)),
            context=tuple(groups),
            uses_end_image=end_image and section == 0,
        )
    first = 1 + window * section
    generated = tuple(range(first, first + window))
    history = sum(frames for frames, _ in HISTORY_LEVELS)
    groups = [LayoutGroup((1, 2, 2), (0,), (0,))]
    time, rope = first - 1, history  # nearest history frame: true time, RoPE index
    for frames, kernel in HISTORY_LEVELS:
        times = tuple(t if t >= 0 else None for t in range(time - frames + 1, time + 1))
        groups.append(LayoutGroup(kernel, times, tuple(range(rope - frames + 1, rope + 1))))
        time, rope = time - frames, rope - frames
    return SectionLayout(
        generated=generated,
        noisy_rope_indices=tuple(range(history + 1, history + 1 + window)),
        context=tuple(groups),
    )


def _check_order(order: str) -> None:
    if order not in RELEASED_ORDERS:
        raise ValueError(f"the released FramePack models sample in orders {RELEASED_ORDERS}, got {order!r}")
