"""Prompt sets: the lab test split, or a user's file of prompts and start images.

A user file is JSON (a list of {"prompt": ..., "image": "start.png", "id": ...}), CSV with
the columns prompt[, image][, id], or plain text (one prompt per line). Image paths are
relative to the file; images are read as RGB uint8.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.grid.errors import GridError
from bench.grid.spec import PromptSetSpec


@dataclass(frozen=True)
class PromptItem:
    """One prompt (and start image, for image-to-video) of a grid."""

    id: str
    prompt: str
    image: np.ndarray | None
    origin: dict[str, Any]

    @property
    def image_sha256(self) -> str | None:
        """Content hash of the start image (part of the run key); None for text-to-video."""
        if self.image is None:
            return None
        digest = hashlib.sha256(np.ascontiguousarray(self.image).tobytes())
        digest.update(str(self.image.shape).encode())
        return digest.hexdigest()


@lru_cache(maxsize=4)
def _lab_split(split: str) -> tuple[Any, ...]:
    from bench.world import test_split

    return tuple(test_split(split))


def _lab_item_image(item: Any) -> np.ndarray | None:
    for attribute in ("start_frame", "start_image", "image"):
        image = getattr(item, attribute, None)
        if image is not None:
            return np.asarray(image, dtype=np.uint8)
    return None


def load_prompt_set(spec: PromptSetSpec, base_dir: Path | None = None) -> list[PromptItem]:
    """The grid's prompt items, in a fixed order.

    Args:
        spec: the grid's `prompts:` section.
        base_dir: folder that a relative `path` resolves against first (the grid file's
            folder); the current directory is tried next.

    Raises:
        GridError: the lab split has fewer items than asked, or the file is malformed.
        FileNotFoundError: the prompt file or one of its images does not exist.
    """
    if spec.source == "lab":
        items = _lab_split(spec.split)
        end = spec.offset + spec.count
        if end > len(items):
            raise GridError(
                "prompts.count",
                f"the lab {spec.split} split has {len(items)} items; offset {spec.offset} + count {spec.count} is too many",
            )
        result = []
        for index in range(spec.offset, end):
            item = items[index]
            image = _lab_item_image(item) if spec.split == "i2v" else None
            if spec.split == "i2v" and image is None:
                raise GridError("prompts.split", f"lab i2v item {index} has no start frame")
            result.append(PromptItem(
                id=f"{spec.split}-{index:03d}",
                prompt=str(item.prompt),
                image=image,
                origin={"source": "lab", "split": spec.split, "index": index},
            ))
        return result
    return _load_prompt_file(spec, base_dir)


def _resolve(path: str, base_dir: Path | None) -> Path:
    candidate = Path(path)
    if candidate.is_absolute() or base_dir is None or not (base_dir / candidate).exists():
        return candidate
    return base_dir / candidate


def _read_image(path: Path, key: str) -> np.ndarray:
    import cv2

    if not path.is_file():
        raise FileNotFoundError(f"{key}: start image {str(path)!r} does not exist")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise GridError(key, f"{str(path)!r} is not a readable image")
    return np.ascontiguousarray(image[:, :, ::-1])


def _load_prompt_file(spec: PromptSetSpec, base_dir: Path | None) -> list[PromptItem]:
    path = _resolve(spec.path, base_dir)
    if not path.is_file():
        raise FileNotFoundError(f"prompts.path: prompt file {spec.path!r} does not exist (looked at {path})")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            records = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise GridError("prompts.path", f"{str(path)!r} is not valid JSON: {error}") from None
        if not isinstance(records, list):
            raise GridError("prompts.path", f"{str(path)!r} must hold a JSON list of prompt records")
        records = [r if isinstance(r, dict) else {"prompt": r} for r in records]
    elif suffix == ".csv":
        with path.open(newline="") as handle:
            records = list(csv.DictReader(handle))
    elif suffix == ".txt":
        records = [{"prompt": line.strip()} for line in path.read_text().splitlines() if line.strip()]
    else:
        raise GridError("prompts.path", f"{str(path)!r}: expected a .json, .csv or .txt file")
    items = []
    for row_number, record in enumerate(records[: spec.count]):
        key = f"prompts.path[{row_number}]"
        prompt = record.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise GridError(key, f"expected a non-empty `prompt`, got {prompt!r}")
        image_path = record.get("image") or None
        image = _read_image(_resolve(image_path, path.parent), key) if image_path else None
        items.append(PromptItem(
            id=str(record.get("id") or f"p{row_number:03d}"),
            prompt=prompt.strip(),
            image=image,
            origin={"source": "file", "path": str(path), "row": row_number, "image": image_path},
        ))
    if not items:
        raise GridError("prompts.path", f"{str(path)!r} holds no prompts")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise GridError("prompts.path", f"prompt ids repeat in {str(path)!r}")
    return items
