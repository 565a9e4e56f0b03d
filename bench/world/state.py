"""Ground truth of one frame, and the per-clip background it is drawn over.

Positions are in pixels with (0, 0) at the top-left corner of the image; pixel
(row i, column j) covers [j, j + 1) × [i, i + 1), so its centre is (j + 0.5, i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.world.vocabulary import (
    BACKGROUND_COLOURS,
    COLOURS,
    NUM_IDENTITIES,
    SHAPES,
    STRUCTURES,
    check_name,
)


@dataclass(frozen=True)
class DistractorState:
    """A small faceless sprite that moves behind the subject."""

    x: float
    y: float
    radius: float
    shape: str
    colour: str


@dataclass(frozen=True)
class FrameState:
    """Everything true about one frame.

    Attributes:
        index: frame number within its clip.
        time: seconds since the clip's first frame.
        present: whether the subject is drawn at all.
        x, y: subject centre in pixels.
        radius: subject size in pixels (the circle's radius; other shapes match its area roughly).
        shape, colour: names from `SHAPES` / `COLOURS`.
        identity: index into `IDENTITIES`.
        structure: "intact" or how the subject is broken (see `STRUCTURES`).
        distractor: the optional distractor sprite.
        background_offset: how far the background texture has panned, in pixels (x, y).
    """

    index: int
    time: float
    present: bool
    x: float
    y: float
    radius: float
    shape: str
    colour: str
    identity: int
    structure: str = "intact"
    distractor: DistractorState | None = None
    background_offset: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        check_name("shape", self.shape, SHAPES)
        check_name("colour", self.colour, COLOURS)
        check_name("structure", self.structure, STRUCTURES)
        if not 0 <= self.identity < NUM_IDENTITIES:
            raise ValueError(f"identity must be in [0, {NUM_IDENTITIES}), got {self.identity}")
        if self.radius <= 0:
            raise ValueError(f"radius must be positive, got {self.radius}")

    @property
    def structure_intact(self) -> bool:
        return self.structure == "intact"


@dataclass(frozen=True)
class TextureWave:
    """One low-frequency sinusoid of the background texture (cycles per frame width)."""

    freq_x: float
    freq_y: float
    phase: float
    amplitude: float


@dataclass(frozen=True)
class BackgroundSpec:
    """A two-colour linear gradient modulated by a few slow sinusoids (which may pan)."""

    colour_a: str
    colour_b: str
    angle: float  # gradient direction in radians (0 = left to right)
    waves: tuple[TextureWave, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_name("background colour", self.colour_a, BACKGROUND_COLOURS)
        check_name("background colour", self.colour_b, BACKGROUND_COLOURS)


@dataclass(frozen=True)
class Degradation:
    """Strengths in [0, 1] of the image degradations applied after rendering.

    blur: Gaussian blur (sigma up to 2 px). noise: Gaussian noise (std up to 0.2).
    colour_shift: hue rotation (up to 90°) and desaturation. blockiness: JPEG-like 8×8 DCT
    quantisation. `seed` fixes the noise pattern.
    """

    blur: float = 0.0
    noise: float = 0.0
    colour_shift: float = 0.0
    blockiness: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("blur", "noise", "colour_shift", "blockiness"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"degradation {name} must be in [0, 1], got {value}")

    @property
    def level(self) -> float:
        """Overall degradation in [0, 1]: 1 − Π(1 − strength); 0 means a clean frame."""
        clean = (1 - self.blur) * (1 - self.noise) * (1 - self.colour_shift) * (1 - self.blockiness)
        return float(1.0 - clean)
