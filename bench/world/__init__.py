"""The lab world: a seeded procedural video world with ground truth for every frame.

Main entry points:
    sample_clip(seed, num_frames, fps=16) -> Clip      frames uint8 (T, 64, 64, 3), prompt, states
    test_split("i2v" | "t2v") -> list[TestItem]         the 64 fixed test requests of each kind
    validation_items(kind, count) -> list[TestItem]     the same from validation seeds (model selection)
    split_items(split, kind, count) -> list[TestItem]   either, by name ("test" | "validation")
    render_state(state, background, degradation=None)  one (possibly broken / degraded) frame
"""

from bench.world.attributes import ClipAttributes, DistractorSpec, sample_attributes, states_for
from bench.world.clip import Clip, sample_clip
from bench.world.motion import MotionSpec, trajectory
from bench.world.prompt import describe
from bench.world.random_scene import (
    JUNK_KINDS,
    LabelledFrame,
    junk_frame,
    sample_degradation,
    sample_labelled_frame,
)
from bench.world.render import render_state, render_states
from bench.world.splits import (
    ITEM_SPLITS,
    SECTIONS,
    TEST_SEED_BASE,
    TRAIN_SEEDS,
    VALIDATION_SEEDS,
    TestItem,
    is_training_seed,
    num_frames,
    split_items,
    test_split,
    validation_items,
)
from bench.world.state import BackgroundSpec, Degradation, DistractorState, FrameState
from bench.world.vocabulary import (
    COLOURS,
    FRAME_SIZE,
    IDENTITIES,
    MOTIONS,
    NOMINAL_FPS,
    NUM_IDENTITIES,
    SHAPES,
    STRUCTURES,
    Identity,
)

__all__ = [
    "COLOURS", "FRAME_SIZE", "JUNK_KINDS", "IDENTITIES", "MOTIONS", "NOMINAL_FPS", "NUM_IDENTITIES", "SECTIONS",
    "ITEM_SPLITS", "SHAPES", "STRUCTURES", "TEST_SEED_BASE", "TRAIN_SEEDS", "VALIDATION_SEEDS",
    "BackgroundSpec", "Clip", "ClipAttributes", "Degradation", "DistractorSpec", "DistractorState",
    "FrameState", "Identity", "LabelledFrame", "MotionSpec", "TestItem",
    "describe", "is_training_seed", "junk_frame", "num_frames", "render_state", "render_states", "sample_attributes",
    "sample_clip", "sample_degradation", "sample_labelled_frame", "states_for", "split_items", "test_split", "trajectory", "validation_items",
]
