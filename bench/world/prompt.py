"""Prompts written from a clip's attributes."""

from __future__ import annotations

import numpy as np

from bench.world.attributes import ClipAttributes
from bench.world.motion import describe_motion
from bench.world.vocabulary import IDENTITIES


def _pan_phrase(vx: float, vy: float) -> str:
    if abs(vx) >= abs(vy):
        return "right" if vx > 0 else "left"
    return "down" if vy > 0 else "up"


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(attributes: ClipAttributes) -> str:
    """E.g. "a red circle with a wide-set, round-eyed, smiling face drifts right over a
    sand-to-slate gradient, while a small blue square floats behind it, as the background pans left"."""
    a = attributes
    face = IDENTITIES[a.identity].description
    words = [
        f"{article(a.colour)} {a.colour} {a.shape} with a {face} face {describe_motion(a.motion)}",
        f"over a {a.background.colour_a}-to-{a.background.colour_b} gradient",
    ]
    text = " ".join(words)
    if a.distractor is not None:
        text += f", while a small {a.distractor.colour} {a.distractor.shape} floats behind it"
    if a.pan is not None and np.hypot(*a.pan) > 0:
        text += f", as the background pans {_pan_phrase(*a.pan)}"
    return text
