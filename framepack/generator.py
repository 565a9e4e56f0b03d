"""The interface every video generator implements: FramePack with any schedule,
every baseline, and the full-scale diffusers pipelines.

A generator turns a `GenerationRequest` into frames. Frames are handed to a
`FrameSink` as soon as they are final, so a long video never has to sit in memory;
`MemorySink` collects them when a caller wants the whole video back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ProgressEvent:
    """One tick of progress. `kind` is "section" or "step"; `total` may be None."""

    kind: str
    done: int
    total: int | None
    section: int | None = None


@dataclass
class GenerationCost:
    """What generating cost, accumulated by the generator when a request carries one: network
    evaluations (NFE: every model call, both guidance branches counted) and the seconds spent
    decoding latents to frames (part of the generation's wall time)."""

    network_evaluations: int = 0
    decode_seconds: float = 0.0


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate.

    Images are uint8 arrays of shape (H, W, 3). `num_sections` counts sections of the
    generator's own section length; `seed` alone determines the initial noise. A `cost`, when
    given, is added to by the generator (see `GenerationCost`).
    """

    prompt: str
    start_image: np.ndarray | None = None
    end_image: np.ndarray | None = None
    num_sections: int = 2
    seed: int = 0
    on_progress: Callable[[ProgressEvent], None] | None = field(default=None, compare=False)
    cost: GenerationCost | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.num_sections < 1:
            raise ValueError(f"num_sections must be >= 1, got {self.num_sections}")
        for name in ("start_image", "end_image"):
            image = getattr(self, name)
            if image is not None and (image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8):
                raise ValueError(
                    f"{name} must be a uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}"
                )

    def report(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)


class FrameSink(Protocol):
    """Receives final frames. Frames may arrive out of time order (inverted sampling
    generates the end first); `first_index` says where they belong."""

    def put(self, first_index: int, frames: np.ndarray) -> None:
        """frames: uint8 (T, H, W, 3) for time indices first_index .. first_index+T-1."""

    def close(self) -> None:
        """Called once, after the last `put`."""


class MemorySink:
    """Collects frames in memory and returns them in time order."""

    def __init__(self) -> None:
        self._chunks: dict[int, np.ndarray] = {}

    def put(self, first_index: int, frames: np.ndarray) -> None:
        self._chunks[first_index] = np.asarray(frames, dtype=np.uint8)

    def close(self) -> None:
        pass

    def frames(self) -> np.ndarray:
        """All frames as uint8 (T, H, W, 3); raises if a time index is missing or doubled."""
        ordered = sorted(self._chunks.items())
        expected = 0
        for first_index, chunk in ordered:
            if first_index != expected:
                raise ValueError(f"frames missing or overlapping at index {expected} (next chunk starts at {first_index})")
            expected += len(chunk)
        return np.concatenate([chunk for _, chunk in ordered], axis=0)


@runtime_checkable
class Generator(Protocol):
    """Anything that makes videos. `name` is the row name used in tables (for FramePack,
    the schedule in the paper's notation)."""

    name: str
    fps: int

    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate the video for `request`, handing every final frame to `sink`, then close it."""
