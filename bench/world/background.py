"""The background: a two-colour gradient under a low-frequency texture that can pan."""

from __future__ import annotations

import numpy as np

from bench.world.state import BackgroundSpec
from bench.world.vocabulary import BACKGROUND_COLOURS, FRAME_SIZE

_CENTRES = np.arange(FRAME_SIZE, dtype=np.float32) + 0.5


def render_background(spec: BackgroundSpec, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Float32 (64, 64, 3) image in [0, 1]; `offset` (px) moves the texture, not the lighting."""
    xs = _CENTRES[None, :]
    ys = _CENTRES[:, None]
    c, s = np.cos(spec.angle), np.sin(spec.angle)
    half_extent = 0.5 * FRAME_SIZE * (abs(c) + abs(s))
    g = 0.5 + 0.5 * ((xs - 32.0) * c + (ys - 32.0) * s) / half_extent  # 0..1 along the gradient
    colour_a = np.asarray(BACKGROUND_COLOURS[spec.colour_a], dtype=np.float32)
    colour_b = np.asarray(BACKGROUND_COLOURS[spec.colour_b], dtype=np.float32)
    image = colour_a + g[..., None].astype(np.float32) * (colour_b - colour_a)
    texture = np.ones((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    px, py = xs - offset[0], ys - offset[1]
    for wave in spec.waves:
        phase = (2 * np.pi / FRAME_SIZE) * (wave.freq_x * px + wave.freq_y * py) + wave.phase
        texture += wave.amplitude * np.sin(phase).astype(np.float32)
    return np.clip(image * texture[..., None], 0.0, 1.0)
