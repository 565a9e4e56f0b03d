"""Draw frames from their ground truth: background, distractor, subject, degradation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.world.background import render_background
from bench.world.degrade import apply_degradation
from bench.world.sprite import body_sdf, coverage, sprite_sdfs
from bench.world.state import BackgroundSpec, Degradation, FrameState
from bench.world.vocabulary import FRAME_SIZE, SUBJECT_COLOURS

DARK_FEATURES = np.array([0.08, 0.08, 0.10], np.float32)
LIGHT_FEATURES = np.array([0.97, 0.97, 0.94], np.float32)
SPRITE_REACH = 1.9  # radii from the centre that any part of a (possibly torn) sprite can reach


def feature_colour(colour: str) -> np.ndarray:
    """Eyes and mouth are dark on light bodies and light on dark ones, so faces always show."""
    r, g, b = SUBJECT_COLOURS[colour]
    return DARK_FEATURES if 0.299 * r + 0.587 * g + 0.114 * b > 0.45 else LIGHT_FEATURES


def _window(x: float, y: float, radius: float) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """The pixel rows/columns a sprite can touch, and their centre coordinates."""
    reach = SPRITE_REACH * radius + 2.0
    r0, r1 = max(0, math.floor(y - reach)), min(FRAME_SIZE, math.ceil(y + reach))
    c0, c1 = max(0, math.floor(x - reach)), min(FRAME_SIZE, math.ceil(x + reach))
    if r0 >= r1 or c0 >= c1:
        return None
    ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
    return slice(r0, r1), slice(c0, c1), xs, ys


def _draw_distractor(image: np.ndarray, state: FrameState) -> None:
    d = state.distractor
    window = _window(d.x, d.y, d.radius)
    if window is None:
        return
    rows, cols, xs, ys = window
    alpha = coverage(body_sdf((xs - d.x) / d.radius, (ys - d.y) / d.radius, d.shape) * d.radius)[..., None]
    colour = np.asarray(SUBJECT_COLOURS[d.colour], np.float32)
    patch = image[rows, cols]
    image[rows, cols] = patch + alpha * (colour - patch)


def _draw_subject(image: np.ndarray, state: FrameState) -> None:
    window = _window(state.x, state.y, state.radius)
    if window is None:
        return
    rows, cols, xs, ys = window
    r = state.radius
    u, v = (xs - state.x) / r, (ys - state.y) / r
    body_distance, feature_distance = sprite_sdfs(u, v, state.shape, state.identity, state.structure)
    body_px = body_distance * r
    body_alpha = coverage(body_px)
    feature_alpha = coverage(feature_distance * r) * body_alpha
    # Soft light from the top-left and a darker rim make the shape read as an object.
    shade = 1.0 + 0.10 * np.clip(-(u + v), -1.5, 1.5) - 0.30 * np.clip(1.5 + body_px, 0.0, 1.0)
    body = np.asarray(SUBJECT_COLOURS[state.colour], np.float32) * shade[..., None]
    patch = image[rows, cols]
    patch = patch + body_alpha[..., None] * (body - patch)
    patch = patch + feature_alpha[..., None] * (feature_colour(state.colour) - patch)
    image[rows, cols] = patch


def render_float(state: FrameState, background: BackgroundSpec) -> np.ndarray:
    """The clean frame as float32 (64, 64, 3) in [0, 1]."""
    image = render_background(background, state.background_offset)
    if state.distractor is not None:
        _draw_distractor(image, state)
    if state.present:
        _draw_subject(image, state)
    return np.clip(image, 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] → uint8 with rounding."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render_state(
    state: FrameState, background: BackgroundSpec, degradation: Degradation | None = None
) -> np.ndarray:
    """Render one frame as uint8 (64, 64, 3).

    Args:
        state: the ground truth to draw. Controlled breakages go through it: set
            `structure` (e.g. "torn", "missing_eyes") or swap `identity`
            (`dataclasses.replace(state, identity=k)`).
        background: the clip's background.
        degradation: optional blur / noise / colour shift / blockiness applied afterwards.
    """
    image = render_float(state, background)
    if degradation is not None:
        image = apply_degradation(image, degradation)
    return to_uint8(image)


def render_states(
    states: Sequence[FrameState], background: BackgroundSpec, degradation: Degradation | None = None
) -> np.ndarray:
    """Render frames as uint8 (T, 64, 64, 3); a degradation's noise seed is offset per frame."""
    frames = np.empty((len(states), FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    for i, state in enumerate(states):
        frame_degradation = None
        if degradation is not None:
            frame_degradation = Degradation(
                degradation.blur, degradation.noise, degradation.colour_shift, degradation.blockiness,
                seed=degradation.seed + i,
            )
        frames[i] = render_state(state, background, frame_degradation)
    return frames
