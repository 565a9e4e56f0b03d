"""The quality-bar numbers: real continuations pass, frames without the subject fail."""

import numpy as np
import pytest

from bench.train.evaluate import first_section_numbers
from bench.world import test_split
from metrics.lab.perceptor import DEFAULT_CHECKPOINT, LabPerceptor

pytestmark = [
    pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no committed lab perceptor"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def clips():
    items = test_split("i2v")[:4]
    references = [item.reference_clip(10) for item in items]
    truth = [np.array([[s.x, s.y] for s in clip.states]) for clip in references]
    return [clip.frames for clip in references], truth


def test_the_real_continuation_meets_every_target(clips):
    real, truth = clips
    numbers = first_section_numbers(LabPerceptor.load(), real, real, truth)
    assert all(numbers["met"].values()), numbers
    assert numbers["degradation_gap"] == 0 and numbers["position_error_px_frame1"] < 1.0


def test_a_section_without_the_subject_fails_presence_and_continuity(clips):
    real, truth = clips
    # the start frame, then nine frames of its flat mean colour: no subject anywhere
    flat = [np.broadcast_to(video[0].mean(axis=(0, 1)).astype(np.uint8), (9, 64, 64, 3)) for video in real]
    blank = [np.concatenate([video[:1], rest]) for video, rest in zip(real, flat, strict=True)]
    numbers = first_section_numbers(LabPerceptor.load(), blank, real, truth)
    assert not numbers["met"]["presence"] and numbers["presence"] < 0.5
    assert numbers["met"]["moves"] is False
