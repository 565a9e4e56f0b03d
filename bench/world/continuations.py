"""Real continuations of a start frame: the true one, and others the world could equally have rendered.

A start frame and its prompt do not fix a clip: how fast the subject drifts, how often it
bounces, how fast the background pans are hidden. `alternative_continuation` redraws exactly
those hidden parameters (speeds, frequencies, within the ranges the world samples from) and
keeps everything the start frame shows or the prompt says (shape, colour, face, start
position, motion kind, heading sector, sideways direction, pan direction), so the first frame
is identical and the prompt still describes the clip. Sets of such continuations are the
reference distribution of real video at every horizon, and two disjoint sets of them give the
real-vs-real floor of a set-level distance (see `metrics.reference_distance`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bench.world.attributes import PAN_SPEED_RANGE, ClipAttributes, states_for
from bench.world.motion import MotionSpec
from bench.world.prompt import describe
from bench.world.render import render_states
from bench.world.vocabulary import NOMINAL_FPS

HEADING_JITTER = 0.15  # rad, as `sample_motion` draws it around the compass heading


def redraw_motion(motion: MotionSpec, rng: np.random.Generator) -> MotionSpec:
    """The same trajectory at t = 0 (position, kind, direction words) with its hidden speeds redrawn."""
    if motion.kind == "drift":
        sector = np.round(np.arctan2(motion.vy, motion.vx) / (np.pi / 4)) * np.pi / 4
        heading = sector + rng.uniform(-HEADING_JITTER, HEADING_JITTER)
        speed = rng.uniform(4.0, 9.0)
        return dataclasses.replace(motion, vx=speed * np.cos(heading), vy=speed * np.sin(heading))
    side = 1.0 if motion.vx > 0 else -1.0
    if motion.kind == "bounce":
        return dataclasses.replace(motion, vx=side * rng.uniform(2.0, 6.0), frequency=rng.uniform(0.4, 0.7))
    if motion.kind == "bob":
        # The prompt says "while drifting" only from 1 px/s on: stay on the same side of it.
        low, high = (1.0, 5.0) if abs(motion.vx) >= 1.0 else (0.0, 1.0)
        return dataclasses.replace(motion, vx=side * rng.uniform(low, high), frequency=rng.uniform(0.3, 0.6))
    turn = 1.0 if motion.frequency > 0 else -1.0
    return dataclasses.replace(motion, frequency=turn * rng.uniform(0.08, 0.2))


def redraw_hidden(attributes: ClipAttributes, rng: np.random.Generator) -> ClipAttributes:
    """Attributes with the subject's, the distractor's and the pan's hidden speeds redrawn."""
    distractor = attributes.distractor
    if distractor is not None:
        distractor = dataclasses.replace(distractor, motion=redraw_motion(distractor.motion, rng))
    pan = attributes.pan
    if pan is not None:
        direction = np.asarray(pan) / max(float(np.hypot(*pan)), 1e-12)
        speed = rng.uniform(*PAN_SPEED_RANGE)
        pan = (float(direction[0] * speed), float(direction[1] * speed))
    return dataclasses.replace(attributes, motion=redraw_motion(attributes.motion, rng), distractor=distractor,
                               pan=pan)


def alternative_continuation(attributes: ClipAttributes, seed: int, draw: int, num_frames: int,
                             fps: float = NOMINAL_FPS) -> np.ndarray:
    """uint8 (num_frames, 64, 64, 3): a real clip from the same start frame and prompt as
    `attributes`' clip (the clip of `seed`), with hidden speeds redrawn by `draw` (0, 1, …
    give different clips; each (seed, draw) its own).

    Raises ValueError if the redraw changed the prompt (a bug, never silently a wrong reference).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    rng = np.random.default_rng([seed, draw, 0x5EED])
    alternative = redraw_hidden(attributes, rng)
    if describe(alternative) != describe(attributes):
        raise ValueError(f"redrawn continuation changed the prompt: {describe(alternative)!r}")
    return render_states(states_for(alternative, num_frames, fps), alternative.background)
