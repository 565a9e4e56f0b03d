"""The lab world's fixed vocabulary: shapes, colours, identities, motions, structures.

Everything a prompt can say and the perceptor can read is listed here, in a fixed
order; class indices used by the perceptor are positions in these tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_SIZE = 64
NOMINAL_FPS = 16.0

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "hexagon")

# Saturated subject colours (sRGB in [0, 1]); backgrounds are muted so subjects stand out.
SUBJECT_COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.16, 0.16),
    "orange": (0.96, 0.55, 0.10),
    "yellow": (0.96, 0.86, 0.16),
    "green": (0.18, 0.68, 0.24),
    "cyan": (0.10, 0.76, 0.82),
    "blue": (0.16, 0.30, 0.86),
    "purple": (0.56, 0.20, 0.76),
    "pink": (0.96, 0.46, 0.72),
}
COLOURS: tuple[str, ...] = tuple(SUBJECT_COLOURS)

BACKGROUND_COLOURS: dict[str, tuple[float, float, float]] = {
    "slate": (0.33, 0.38, 0.46),
    "sand": (0.74, 0.68, 0.55),
    "mint": (0.60, 0.74, 0.64),
    "lavender": (0.64, 0.60, 0.74),
    "grey": (0.50, 0.50, 0.50),
    "peach": (0.80, 0.64, 0.56),
    "sky": (0.56, 0.68, 0.80),
    "olive": (0.46, 0.48, 0.33),
    "charcoal": (0.20, 0.21, 0.23),
}

EYE_STYLES: tuple[str, ...] = ("round", "slit")
EYE_SPACINGS: tuple[str, ...] = ("close-set", "wide-set")
MOUTHS: tuple[str, ...] = ("smiling", "frowning", "surprised")


@dataclass(frozen=True)
class Identity:
    """A face: the arrangement of eyes and mouth that tells one subject from another."""

    index: int
    eye_style: str
    eye_spacing: str
    mouth: str

    @property
    def description(self) -> str:
        """Words a prompt uses, e.g. "wide-set, round-eyed, smiling"."""
        return f"{self.eye_spacing}, {self.eye_style}-eyed, {self.mouth}"


IDENTITIES: tuple[Identity, ...] = tuple(
    Identity(index, style, spacing, mouth)
    for index, (style, spacing, mouth) in enumerate(
        (s, sp, m) for s in EYE_STYLES for sp in EYE_SPACINGS for m in MOUTHS
    )
)
NUM_IDENTITIES = len(IDENTITIES)

MOTIONS: tuple[str, ...] = ("drift", "bounce", "bob", "orbit")

# How a subject can be broken (for the anatomy metric's validity tests); "intact" first.
STRUCTURES: tuple[str, ...] = ("intact", "missing_eyes", "misplaced_eyes", "extra_eye", "torn")


def check_name(kind: str, value: str, allowed: tuple[str, ...] | dict) -> str:
    """Return `value` if it is one of `allowed`, else raise a ValueError naming both."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; expected one of {', '.join(allowed)}")
    return value
