"""Seeded clips of the lab world."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.world.attributes import ClipAttributes, sample_attributes, states_for
from bench.world.prompt import describe
from bench.world.render import render_states
from bench.world.state import BackgroundSpec, FrameState
from bench.world.vocabulary import NOMINAL_FPS


@dataclass(frozen=True)
class Clip:
    """A rendered clip: uint8 frames (T, 64, 64, 3), its prompt and per-frame ground truth."""

    seed: int
    fps: float
    frames: np.ndarray
    prompt: str
    states: list[FrameState]
    attributes: ClipAttributes

    @property
    def background(self) -> BackgroundSpec:
        return self.attributes.background


def check_length(num_frames: int, fps: float) -> None:
    if not isinstance(num_frames, int | np.integer) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")


def sample_clip(
    seed: int,
    num_frames: int,
    fps: float = NOMINAL_FPS,
    *,
    first_index: int = 0,
    distractor: bool | None = None,
    pan: bool | None = None,
) -> Clip:
    """Render a clip of the lab world, fully determined by its arguments.

    Args:
        seed: picks every attribute (shape, colour, identity, motion, background, options).
        num_frames: any positive length.
        fps: frame rate; motion is defined in px/s, so the path does not depend on it.
        first_index: start later along the same path (frame first_index is the first frame),
            e.g. to get the ground-truth continuation of a clip.
        distractor, pan: force the distractor / background pan on or off (None: the seed decides).
    """
    check_length(num_frames, fps)
    attributes = sample_attributes(np.random.default_rng(seed), distractor=distractor, pan=pan)
    states = states_for(attributes, num_frames, fps, first_index)
    frames = render_states(states, attributes.background)
    return Clip(seed, float(fps), frames, describe(attributes), states, attributes)
