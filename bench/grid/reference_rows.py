"""Reference rows: the ceiling and the floor of every lab table's columns.

    rows:
      - generator: reference_real        # the lab world's own continuation of each test item
      - generator: reference_static      # the start frame repeated

Both are measured by the same metrics as every other row, so a reader sees what real motion and
no motion at all score in each column. They are references, not contestants: tables do not rank
them (no bold "best"), and they take no part in A/B votes or ELO.

A lab test item is found from the run's prompt and start image (the world renders each item's
start frame from its seed, so the pair names the item). Each video has as many frames as a
FramePack row with `section_frames` latent frames per section: the start frame (image-to-video)
and then `sections × section_frames` frames. Row params: `section_frames` (default 9, the lab's g9).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import numpy as np

from bench.grid.errors import GridError
from bench.grid.registry import GeneratorKind, register_generator_kind
from bench.grid.spec import RowSpec

DEFAULT_SECTION_FRAMES = 9
PARAMETERS = ("section_frames",)


def _image_key(image: np.ndarray | None) -> str | None:
    if image is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


@lru_cache(maxsize=1)
def _lab_items() -> dict[tuple[str, str | None], Any]:
    """Every lab test item by (prompt, start image hash); text-to-video items have no image."""
    from bench.world import test_split

    return {(item.prompt, _image_key(item.start_frame)): item for kind in ("i2v", "t2v") for item in test_split(kind)}


def lab_item_for(prompt: str, start_image: np.ndarray | None) -> Any:
    """The lab test item a request was made from.

    Raises:
        ValueError: the prompt and start image are not a lab test item's (e.g. a user's prompt file).
    """
    item = _lab_items().get((prompt, _image_key(start_image)))
    if item is None:
        raise ValueError(f"reference rows need lab test items (prompts: {{source: lab}}); {prompt!r} "
                         f"{'with this start image ' if start_image is not None else ''}is not one")
    return item


def reference_length(num_sections: int, section_frames: int, has_start: bool) -> int:
    """Frames of a FramePack video of `num_sections` sections of `section_frames` frames."""
    return int(has_start) + num_sections * section_frames


class RealClipReference:
    """The world's render of each item's true continuation, from its start frame on."""

    name = "reference: real clips"
    fps = 16

    def __init__(self, section_frames: int = DEFAULT_SECTION_FRAMES) -> None:
        self.section_frames = section_frames

    def frames_for(self, request) -> np.ndarray:
        item = lab_item_for(request.prompt, request.start_image)
        count = reference_length(request.num_sections, self.section_frames, request.start_image is not None)
        return item.reference_clip(count, float(self.fps)).frames

    def generate(self, request, sink) -> None:
        sink.put(0, self.frames_for(request))
        sink.close()


class StaticReference:
    """The start frame repeated for the whole video: no motion at all (text-to-video: the item's
    first real frame)."""

    name = "reference: static (start frame)"
    fps = 16

    def __init__(self, section_frames: int = DEFAULT_SECTION_FRAMES) -> None:
        self.section_frames = section_frames

    def frames_for(self, request) -> np.ndarray:
        start = request.start_image
        if start is None:
            start = lab_item_for(request.prompt, None).reference_clip(1, float(self.fps)).frames[0]
        count = reference_length(request.num_sections, self.section_frames, request.start_image is not None)
        return np.repeat(np.asarray(start, np.uint8)[None], count, axis=0)

    def generate(self, request, sink) -> None:
        sink.put(0, self.frames_for(request))
        sink.close()


def _validate(row: RowSpec) -> None:
    for key, value in row.params.items():
        if key not in PARAMETERS:
            raise GridError(f"{row.key}.params.{key}",
                            f"unknown parameter {key!r} of {row.kind!r}; expected one of {', '.join(PARAMETERS)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GridError(f"{row.key}.params.{key}", f"expected a positive integer (frames per section), got {value!r}")
    if row.checkpoint:
        raise GridError(f"{row.key}.checkpoint", f"{row.kind!r} rows are rendered by the lab world and take no checkpoint")


def _kind(name: str, generator: type, description: str) -> GeneratorKind:
    return GeneratorKind(
        name=name,
        build=lambda row: generator(**dict(row.params)),
        validate=_validate,
        display_name=lambda row: generator.name,
        needs_checkpoint=False,
        reference=True,
        description=description,
    )


REFERENCE_REAL = register_generator_kind(_kind(
    "reference_real", RealClipReference, "reference row: the lab world's true continuation of each test item"))
REFERENCE_STATIC = register_generator_kind(_kind(
    "reference_static", StaticReference, "reference row: the start frame repeated (no motion)"))
