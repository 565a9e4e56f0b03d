"""Seed ranges and the fixed test splits.

Training draws seeds from TRAIN_SEEDS only; held-out evaluation from VALIDATION_SEEDS; the
test splits use their own seeds, disjoint from both, so no test clip is ever trained on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from bench.world.attributes import ClipAttributes, sample_attributes
from bench.world.clip import Clip, sample_clip
from bench.world.prompt import describe
from bench.world.vocabulary import NOMINAL_FPS

TRAIN_SEEDS = range(0, 1_000_000_000)
VALIDATION_SEEDS = range(1_000_000_000, 1_100_000_000)
TEST_SEED_BASE = {"i2v": 2_000_000_000, "t2v": 2_000_100_000}
TEST_SPLIT_SIZE = 64
# Validation items (model selection: candidate models are compared here, never on the test split) use
# VALIDATION_SEEDS from this offset on.
VALIDATION_ITEM_OFFSET = 5_000
SECTIONS = {"short": 2, "long": 12}
SPLIT_KINDS = tuple(TEST_SEED_BASE)
ITEM_SPLITS = ("test", "validation")


@dataclass(frozen=True)
class TestItem:
    """One test request: a prompt, a seed and (image-to-video only) the start frame."""

    kind: str
    index: int
    seed: int
    prompt: str
    attributes: ClipAttributes
    start_frame: np.ndarray | None = None

    def reference_clip(self, num_frames: int, fps: float = NOMINAL_FPS) -> Clip:
        """The ground-truth clip that starts at this item's start frame."""
        return sample_clip(self.seed, num_frames, fps)


def num_sections(length: str) -> int:
    """2 for "short", 12 for "long"."""
    if length not in SECTIONS:
        raise ValueError(f"unknown length {length!r}; expected one of {', '.join(SECTIONS)}")
    return SECTIONS[length]


def num_frames(length: str, section_frames: int) -> int:
    """Frames in a "short" / "long" video of sections of `section_frames` frames."""
    if section_frames < 1:
        raise ValueError(f"section_frames must be >= 1, got {section_frames}")
    return num_sections(length) * section_frames


def is_training_seed(seed: int) -> bool:
    return seed in TRAIN_SEEDS


def _item(kind: str, index: int, seed: int) -> TestItem:
    if kind == "i2v":
        clip = sample_clip(seed, 1)
        return TestItem(kind, index, seed, clip.prompt, clip.attributes, clip.frames[0])
    attributes = sample_attributes(np.random.default_rng(seed))
    return TestItem(kind, index, seed, describe(attributes), attributes)


@functools.cache
def _split(kind: str) -> tuple[TestItem, ...]:
    return tuple(_item(kind, index, TEST_SEED_BASE[kind] + index) for index in range(TEST_SPLIT_SIZE))


def validation_items(kind: str, count: int = TEST_SPLIT_SIZE) -> list[TestItem]:
    """`count` items built like the test split's but from validation seeds, for choosing between
    models without looking at the test split."""
    if kind not in TEST_SEED_BASE:
        raise ValueError(f"unknown split kind {kind!r}; expected one of {', '.join(SPLIT_KINDS)}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return [_item(kind, index, VALIDATION_SEEDS.start + VALIDATION_ITEM_OFFSET + index) for index in range(count)]


def split_items(split: str, kind: str, count: int) -> list[TestItem]:
    """The first `count` items of the test split, or `count` validation items (`split` in ITEM_SPLITS)."""
    if split not in ITEM_SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(ITEM_SPLITS)}")
    return test_split(kind)[:count] if split == "test" else validation_items(kind, count)


def test_split(kind: str) -> list[TestItem]:
    """The 64 fixed test items of `kind`: "i2v" (start frame + prompt) or "t2v" (prompt only)."""
    if kind not in TEST_SEED_BASE:
        raise ValueError(f"unknown test split {kind!r}; expected one of {', '.join(SPLIT_KINDS)}")
    return list(_split(kind))


# Not a pytest test class, despite the name.
TestItem.__test__ = False
test_split.__test__ = False
