"""What a clip is made of (sampled once per clip from its seed) and the states it implies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.world.motion import MotionSpec, sample_motion, trajectory
from bench.world.state import BackgroundSpec, DistractorState, FrameState, TextureWave
from bench.world.vocabulary import BACKGROUND_COLOURS, COLOURS, NUM_IDENTITIES, SHAPES

RADIUS_RANGE = (10.0, 13.0)
DISTRACTOR_RADIUS_RANGE = (3.5, 5.0)
PAN_SPEED_RANGE = (1.0, 3.0)  # px/s


@dataclass(frozen=True)
class DistractorSpec:
    shape: str
    colour: str
    radius: float
    motion: MotionSpec


@dataclass(frozen=True)
class ClipAttributes:
    """Everything fixed for a clip; the prompt describes these."""

    shape: str
    colour: str
    identity: int
    radius: float
    motion: MotionSpec
    background: BackgroundSpec
    pan: tuple[float, float] | None = None  # background texture velocity, px/s
    distractor: DistractorSpec | None = None


def sample_background(rng: np.random.Generator) -> BackgroundSpec:
    """A gradient between two different muted colours with 2–3 slow texture waves."""
    names = list(BACKGROUND_COLOURS)
    a, b = rng.choice(len(names), size=2, replace=False)
    waves = tuple(
        TextureWave(
            freq_x=float(rng.uniform(-3, 3)), freq_y=float(rng.uniform(-3, 3)),
            phase=float(rng.uniform(0, 2 * np.pi)), amplitude=float(rng.uniform(0.03, 0.08)),
        )
        for _ in range(int(rng.integers(2, 4)))
    )
    return BackgroundSpec(names[a], names[b], float(rng.uniform(0, 2 * np.pi)), waves)


def sample_attributes(
    rng: np.random.Generator, *, distractor: bool | None = None, pan: bool | None = None
) -> ClipAttributes:
    """Draw a clip's attributes; `distractor` / `pan` force those options (None: random)."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    identity = int(rng.integers(NUM_IDENTITIES))
    radius = float(rng.uniform(*RADIUS_RANGE))
    motion = sample_motion(rng, radius)
    background = sample_background(rng)
    use_pan = bool(rng.random() < 0.5) if pan is None else pan
    pan_velocity = None
    if use_pan:
        heading = rng.integers(4) * np.pi / 2
        speed = rng.uniform(*PAN_SPEED_RANGE)
        pan_velocity = (float(speed * np.cos(heading)), float(speed * np.sin(heading)))
    use_distractor = bool(rng.random() < 0.3) if distractor is None else distractor
    distractor_spec = None
    if use_distractor:
        d_radius = float(rng.uniform(*DISTRACTOR_RADIUS_RANGE))
        d_colour = COLOURS[int(rng.choice([i for i in range(len(COLOURS)) if COLOURS[i] != colour]))]
        distractor_spec = DistractorSpec(
            SHAPES[int(rng.integers(len(SHAPES)))], d_colour, d_radius,
            sample_motion(rng, d_radius, kind="drift"),
        )
    return ClipAttributes(shape, colour, identity, radius, motion, background, pan_velocity, distractor_spec)


def states_for(attributes: ClipAttributes, num_frames: int, fps: float, first_index: int = 0) -> list[FrameState]:
    """Ground-truth states of frames first_index … first_index + num_frames − 1 at `fps`."""
    a = attributes
    indices = np.arange(first_index, first_index + num_frames)
    times = indices / fps
    xs, ys = trajectory(a.motion, times, a.radius)
    if a.distractor is not None:
        dxs, dys = trajectory(a.distractor.motion, times, a.distractor.radius)
    pan = a.pan or (0.0, 0.0)
    states = []
    for k, index in enumerate(indices):
        distractor = None
        if a.distractor is not None:
            d = a.distractor
            distractor = DistractorState(float(dxs[k]), float(dys[k]), d.radius, d.shape, d.colour)
        states.append(
            FrameState(
                index=int(index), time=float(times[k]), present=True, x=float(xs[k]), y=float(ys[k]),
                radius=a.radius, shape=a.shape, colour=a.colour, identity=a.identity,
                distractor=distractor, background_offset=(pan[0] * times[k], pan[1] * times[k]),
            )
        )
    return states
