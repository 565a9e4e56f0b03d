"""Smooth subject motion as closed-form trajectories of time (seconds).

Positions are continuous in time and piecewise smooth (reflections off the frame edges and
bounces on the floor are the only kinks), so a model can extrapolate them from two or more
context frames, and any clip length or frame rate samples the same path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.world.vocabulary import FRAME_SIZE, MOTIONS, check_name


@dataclass(frozen=True)
class MotionSpec:
    """Parameters of one trajectory.

    kind: "drift" (straight line, reflecting off the edges), "bounce" (parabolic hops on the
    floor while moving sideways), "bob" (vertical sine while moving sideways), "orbit"
    (a circle; positive frequency is clockwise on screen). Speeds in px/s, frequency in Hz.
    """

    kind: str
    x0: float
    y0: float
    vx: float = 0.0
    vy: float = 0.0
    amplitude: float = 0.0
    frequency: float = 0.0
    phase: float = 0.0

    def __post_init__(self) -> None:
        check_name("motion", self.kind, MOTIONS)


def reflect(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold an unbounded coordinate into [lo, hi] as a ball reflecting off two walls."""
    span = hi - lo
    q = np.mod(p - lo, 2 * span)
    return lo + span - np.abs(q - span)


def bounds(radius: float) -> tuple[float, float]:
    """The interval the subject centre stays in, keeping its body inside the frame."""
    return radius + 1.0, FRAME_SIZE - radius - 1.0


def trajectory(spec: MotionSpec, times: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Subject centre (x, y) in px at each time in `times` (seconds)."""
    t = np.asarray(times, dtype=np.float64)
    lo, hi = bounds(radius)
    angle = 2 * np.pi * spec.frequency * t + spec.phase
    if spec.kind == "drift":
        return reflect(spec.x0 + spec.vx * t, lo, hi), reflect(spec.y0 + spec.vy * t, lo, hi)
    x = reflect(spec.x0 + spec.vx * t, lo, hi)
    if spec.kind == "bounce":
        tau = np.mod(spec.frequency * t + spec.phase, 1.0)
        return x, hi - 4.0 * spec.amplitude * tau * (1.0 - tau)
    if spec.kind == "bob":
        return x, spec.y0 + spec.amplitude * np.sin(angle)
    return spec.x0 + spec.amplitude * np.cos(angle), spec.y0 + spec.amplitude * np.sin(angle)


def sample_motion(rng: np.random.Generator, radius: float, kind: str | None = None) -> MotionSpec:
    """Draw a trajectory that keeps a subject of `radius` inside the frame."""
    kind = kind if kind is not None else MOTIONS[int(rng.integers(len(MOTIONS)))]
    lo, hi = bounds(radius)
    x0, y0 = rng.uniform(lo, hi), rng.uniform(lo, hi)
    sideways = float(rng.choice([-1.0, 1.0]))
    if kind == "drift":
        heading = rng.integers(8) * np.pi / 4 + rng.uniform(-0.15, 0.15)
        speed = rng.uniform(4.0, 9.0)
        return MotionSpec(kind, x0, y0, vx=speed * np.cos(heading), vy=speed * np.sin(heading))
    if kind == "bounce":
        height = rng.uniform(6.0, min(14.0, hi - lo))
        return MotionSpec(kind, x0, hi, vx=sideways * rng.uniform(2.0, 6.0), amplitude=height,
                          frequency=rng.uniform(0.4, 0.7), phase=rng.uniform(0.0, 1.0))
    if kind == "bob":
        amplitude = rng.uniform(3.0, 6.0)
        y0 = rng.uniform(lo + amplitude, hi - amplitude)
        return MotionSpec(kind, x0, y0, vx=sideways * rng.uniform(0.0, 5.0), amplitude=amplitude,
                          frequency=rng.uniform(0.3, 0.6), phase=rng.uniform(0, 2 * np.pi))
    amplitude = rng.uniform(6.0, min(14.0, (hi - lo) / 2))
    cx = rng.uniform(lo + amplitude, hi - amplitude)
    cy = rng.uniform(lo + amplitude, hi - amplitude)
    return MotionSpec(kind, cx, cy, amplitude=amplitude, frequency=sideways * rng.uniform(0.08, 0.2),
                      phase=rng.uniform(0, 2 * np.pi))


_COMPASS = ("right", "down and to the right", "down", "down and to the left",
            "left", "up and to the left", "up", "up and to the right")


def describe_motion(spec: MotionSpec) -> str:
    """A verb phrase for prompts, e.g. "drifts up and to the right", "circles clockwise"."""
    if spec.kind == "drift":
        sector = int(np.round(np.arctan2(spec.vy, spec.vx) / (np.pi / 4))) % 8
        return f"drifts {_COMPASS[sector]}"
    side = "right" if spec.vx > 0 else "left"
    if spec.kind == "bounce":
        return f"bounces along to the {side}"
    if spec.kind == "bob":
        return "bobs up and down" + (f" while drifting {side}" if abs(spec.vx) >= 1.0 else "")
    return "circles " + ("clockwise" if spec.frequency > 0 else "counter-clockwise")
