"""The naive sliding-window context every baseline shares.

The paper runs its alternative architectures with a plain sliding window: half of the model's
context holds the most recent history, uncompressed, and the other half is the section being
generated. In the suite's notation that is a vanilla schedule whose only group is as long as the
section, at the full-detail kernel k1:

    td_f9k1_g9          9 history frames at k1, 9 generated (causal attention, noisy history,
                        history guidance)
    f1k1_x_f8k1_g9      anchor frames: the start frame, fixed, takes one of the 9 history slots
    td_f1k1_g9          repeated image-to-video: one image (the last frame of the previous run)

Expressing the windows as schedules lets the baselines run through the same section plans, packer
and sampler loop as FramePack (`framepack.section_plan`, `framepack.framepack_generator`).
"""

from __future__ import annotations

from framepack.schedule import Schedule

DEFAULT_SECTION_FRAMES = 9
"""Latent frames per section, as FramePack's rows (g9)."""


def _check_frames(frames_per_section: int) -> None:
    if not isinstance(frames_per_section, int) or frames_per_section < 1:
        raise ValueError(f"frames_per_section must be a positive integer, got {frames_per_section!r}")


def window_schedule(frames_per_section: int = DEFAULT_SECTION_FRAMES) -> Schedule:
    """Half of the context to the latest history: `td_f{g}k1_g{g}`.

    Args:
        frames_per_section: g, latent frames generated per section (also the history length).
    """
    _check_frames(frames_per_section)
    return Schedule.parse(f"td_f{frames_per_section}k1_g{frames_per_section}")


def anchored_window_schedule(frames_per_section: int = DEFAULT_SECTION_FRAMES) -> Schedule:
    """The same budget with the start frame as a fixed anchor: `f1k1_x_f{g-1}k1_g{g}`.

    The anchor sits beyond a gap, so `Schedule.assign` always gives it the video's first frame and the
    near group the latest g − 1 frames. With g = 1 there is no room for recent history and the window
    is the anchor alone (`f1k1_x_g1`).

    Args:
        frames_per_section: g, latent frames generated per section.
    """
    _check_frames(frames_per_section)
    recent = frames_per_section - 1
    near = f"_f{recent}k1" if recent else ""
    return Schedule.parse(f"f1k1_x{near}_g{frames_per_section}")


def single_image_schedule(frames_per_section: int = DEFAULT_SECTION_FRAMES) -> Schedule:
    """An image-to-video model's context: one clean frame before the section, `td_f1k1_g{g}`.

    Args:
        frames_per_section: g, latent frames generated per run.
    """
    _check_frames(frames_per_section)
    return Schedule.parse(f"td_f1k1_g{frames_per_section}")
