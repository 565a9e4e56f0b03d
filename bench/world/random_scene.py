"""Random single frames with full labels, for training and testing the perceptor.

Unlike clips, these cover what generated videos may show: a missing subject, a subject
near or across the edge, broken structure, degradations, and frames that are not of the
world at all (colour mosaics, smooth colour fields, noise) — a failed generator makes those,
and a perceptor never shown them would happily find a subject in them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bench.world.attributes import DISTRACTOR_RADIUS_RANGE, RADIUS_RANGE, sample_background
from bench.world.render import render_state
from bench.world.state import BackgroundSpec, Degradation, DistractorState, FrameState
from bench.world.vocabulary import COLOURS, NUM_IDENTITIES, SHAPES, STRUCTURES

DEGRADATION_KINDS = ("blur", "noise", "colour_shift", "blockiness")
JUNK_KINDS = ("mosaic", "smooth_field", "noise", "stripes")


@dataclass(frozen=True)
class LabelledFrame:
    frame: np.ndarray  # uint8 (64, 64, 3)
    state: FrameState
    background: BackgroundSpec
    degradation: Degradation


def sample_degradation(rng: np.random.Generator, p_clean: float = 0.5) -> Degradation:
    """Clean with probability `p_clean`; otherwise 1–2 kinds at uniform strengths."""
    if rng.random() < p_clean:
        return Degradation()
    kinds = rng.choice(len(DEGRADATION_KINDS), size=int(rng.integers(1, 3)), replace=False)
    strengths = {DEGRADATION_KINDS[k]: float(rng.uniform(0.05, 1.0)) for k in kinds}
    return Degradation(**strengths, seed=int(rng.integers(2**31)))


def sample_labelled_frame(
    rng: np.random.Generator,
    *,
    p_present: float = 0.85,
    p_broken: float = 0.3,
    p_distractor: float = 0.4,
    p_clean: float = 0.5,
) -> LabelledFrame:
    """Draw and render one random frame with its ground truth."""
    radius = float(rng.uniform(RADIUS_RANGE[0] - 1.0, RADIUS_RANGE[1] + 1.0))
    broken = rng.random() < p_broken
    structure = STRUCTURES[int(rng.integers(1, len(STRUCTURES)))] if broken else "intact"
    distractor = None
    colour = COLOURS[int(rng.integers(len(COLOURS)))]
    if rng.random() < p_distractor:
        d_radius = float(rng.uniform(*DISTRACTOR_RADIUS_RANGE))
        distractor = DistractorState(
            float(rng.uniform(0, 64)), float(rng.uniform(0, 64)), d_radius,
            SHAPES[int(rng.integers(len(SHAPES)))], COLOURS[int(rng.integers(len(COLOURS)))],
        )
    state = FrameState(
        index=0, time=0.0, present=bool(rng.random() < p_present),
        x=float(rng.uniform(radius * 0.6, 64 - radius * 0.6)),
        y=float(rng.uniform(radius * 0.6, 64 - radius * 0.6)),
        radius=radius, shape=SHAPES[int(rng.integers(len(SHAPES)))], colour=colour,
        identity=int(rng.integers(NUM_IDENTITIES)), structure=structure, distractor=distractor,
        background_offset=(float(rng.uniform(-64, 64)), float(rng.uniform(-64, 64))),
    )
    background = sample_background(rng)
    degradation = sample_degradation(rng, p_clean)
    return LabelledFrame(render_state(state, background, degradation), state, background, degradation)


def junk_frame(rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A uint8 (64, 64, 3) frame that shows no world at all (see `JUNK_KINDS`)."""
    kind = kind if kind is not None else JUNK_KINDS[int(rng.integers(len(JUNK_KINDS)))]
    if kind == "mosaic":
        cells = int(rng.choice([4, 8, 16]))
        small = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
        return cv2.resize(small, (64, 64), interpolation=cv2.INTER_NEAREST)
    if kind == "smooth_field":
        cells = int(rng.integers(2, 7))
        small = rng.uniform(0, 255, (cells, cells, 3)).astype(np.float32)
        return np.clip(cv2.resize(small, (64, 64), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    if kind == "noise":
        noise = rng.uniform(0, 255, (64, 64, 3)).astype(np.float32)
        sigma = float(rng.uniform(0.0, 2.0))
        if sigma > 0.3:
            noise = cv2.GaussianBlur(noise, (0, 0), sigma)
            noise = (noise - noise.mean()) * (60.0 / max(noise.std(), 1e-3)) + 128
        return np.clip(noise, 0, 255).astype(np.uint8)
    if kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 24)
        ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        return (a + wave[..., None] * (b - a)).astype(np.uint8)
    raise ValueError(f"unknown junk kind {kind!r}; expected one of {', '.join(JUNK_KINDS)}")
