"""Signed distance fields of the subject: body shapes and face features.

All functions take normalised sprite coordinates (u, v) = ((x, y) − centre) / radius, with
v pointing down, and return signed distances in the same units (negative inside). The
renderer turns distance × radius (pixels) into anti-aliased coverage, so sub-pixel motion
changes the pixels smoothly.
"""

from __future__ import annotations

import numpy as np

from bench.world.vocabulary import IDENTITIES

_COS30 = np.float32(np.cos(np.pi / 6))
EYE_HEIGHT = -0.22
EYE_OFFSETS = {"close-set": 0.22, "wide-set": 0.40}
TEAR_ANGLE = np.pi / 3  # direction of the normal of the tear line
TEAR_GAP = 0.07
TEAR_SHIFT = (0.18, 0.22)  # how far the torn-off half slides, in radii


def body_sdf(u: np.ndarray, v: np.ndarray, shape: str) -> np.ndarray:
    """Distance to the outline of `shape` (areas roughly equal to the unit circle's)."""
    if shape == "circle":
        return np.hypot(u, v) - 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.88
    if shape == "triangle":
        # Equilateral, apex up, inradius 0.72, raised a little so the face fits.
        w = v + 0.1
        inner = 0.72
        return np.maximum(w - inner, np.maximum(-0.5 * w + _COS30 * u, -0.5 * w - _COS30 * u) - inner)
    if shape == "diamond":
        return (np.abs(u) + np.abs(v) - 1.3) / np.float32(np.sqrt(2.0))
    if shape == "hexagon":
        au, av = np.abs(u), np.abs(v)
        return np.maximum(av, _COS30 * au + 0.5 * av) - 0.95
    raise ValueError(f"unknown shape {shape!r}")


def _eye_sdf(u: np.ndarray, v: np.ndarray, cx: float, cy: float, style: str) -> np.ndarray:
    du, dv = u - cx, v - cy
    if style == "round":
        return np.hypot(du, dv) - 0.14
    # A horizontal slit: a capsule of half-length 0.13 and half-thickness 0.065.
    return np.hypot(np.maximum(np.abs(du) - 0.13, 0.0), dv) - 0.065


def _arc_sdf(u, v, cy: float, radius: float, downward: bool, half_angle: float, thickness: float):
    """A capped circular arc centred on (0, cy) opening around the downward (or upward) axis."""
    dv = v - cy
    axis = dv if downward else -dv
    rho = np.hypot(u, dv)
    inside_angle = axis >= rho * np.cos(half_angle)
    end_u = radius * np.sin(half_angle)
    end_v = cy + (radius * np.cos(half_angle) if downward else -radius * np.cos(half_angle))
    to_end = np.hypot(np.abs(u) - end_u, v - end_v)
    return np.where(inside_angle, np.abs(rho - radius), to_end) - thickness


def _mouth_sdf(u: np.ndarray, v: np.ndarray, mouth: str) -> np.ndarray:
    if mouth == "smiling":
        return _arc_sdf(u, v, 0.02, 0.36, True, np.radians(55), 0.065)
    if mouth == "frowning":
        return _arc_sdf(u, v, 0.74, 0.36, False, np.radians(55), 0.065)
    if mouth == "surprised":
        return np.hypot(u, v - 0.38) - 0.14
    raise ValueError(f"unknown mouth {mouth!r}")


def face_sdf(u: np.ndarray, v: np.ndarray, identity: int, structure: str = "intact") -> np.ndarray:
    """Distance to the nearest face feature (eyes and mouth) of `identity`.

    Broken structures change the eyes: "missing_eyes" has none, "misplaced_eyes" moves the
    right eye down beside the mouth, "extra_eye" adds a third eye on the forehead.
    """
    face = IDENTITIES[identity]
    s = EYE_OFFSETS[face.eye_spacing]
    eyes = [(-s, EYE_HEIGHT), (s, EYE_HEIGHT)]
    if structure == "missing_eyes":
        eyes = []
    elif structure == "misplaced_eyes":
        eyes = [(-s, EYE_HEIGHT), (s + 0.08, 0.30)]
    elif structure == "extra_eye":
        eyes.append((0.0, -0.58))
    distance = _mouth_sdf(u, v, face.mouth)
    for cx, cy in eyes:
        distance = np.minimum(distance, _eye_sdf(u, v, cx, cy, face.eye_style))
    return distance


def sprite_sdfs(
    u: np.ndarray, v: np.ndarray, shape: str, identity: int, structure: str = "intact"
) -> tuple[np.ndarray, np.ndarray]:
    """(body distance, face-feature distance) of a whole subject, torn apart if asked."""
    if structure != "torn":
        return body_sdf(u, v, shape), face_sdf(u, v, identity, structure)
    # Cut along a line through the centre; the far half slides away, leaving a gap.
    nx, ny = np.cos(TEAR_ANGLE), np.sin(TEAR_ANGLE)
    us, vs = u - TEAR_SHIFT[0], v - TEAR_SHIFT[1]
    keep_near = u * nx + v * ny + TEAR_GAP  # <= 0 on the half that stays
    keep_far = TEAR_GAP - (us * nx + vs * ny)  # <= 0 on the half that slid
    body = np.minimum(
        np.maximum(body_sdf(u, v, shape), keep_near), np.maximum(body_sdf(us, vs, shape), keep_far)
    )
    features = np.minimum(
        np.maximum(face_sdf(u, v, identity), keep_near), np.maximum(face_sdf(us, vs, identity), keep_far)
    )
    return body, features


def coverage(distance_px: np.ndarray) -> np.ndarray:
    """Fraction of a pixel inside an edge at signed distance `distance_px` (1-px linear ramp)."""
    return np.clip(0.5 - distance_px, 0.0, 1.0)
