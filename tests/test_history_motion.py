"""The history-motion diagnostic's measurement: a real continuation follows, a frozen one does not."""

import numpy as np
import pytest

from bench.benchmarks.history_motion import continuation_numbers
from bench.world import sample_clip
from metrics.lab.perceptor import LabPerceptor


@pytest.fixture(scope="module")
def examples():
    clips = [sample_clip(seed, 20).frames for seed in range(6)]
    return [clip[10] for clip in clips], [clip[11:20] for clip in clips]  # last context frame, real section


def test_the_real_continuation_moves_along_itself(examples):
    last, real = examples
    numbers = continuation_numbers(LabPerceptor.load(), last, real, real)
    assert numbers["moving_share_real"] >= 0.5
    assert numbers["moving_along_share_generated"] == numbers["moving_share_generated"] == numbers["moving_share_real"]
    assert numbers["displacement_px_generated"] == pytest.approx(numbers["displacement_px_real"])


def test_a_frozen_continuation_does_not_move(examples):
    last, real = examples
    frozen = [np.repeat(frame[None], len(section), axis=0) for frame, section in zip(last, real, strict=True)]
    numbers = continuation_numbers(LabPerceptor.load(), last, frozen, real)
    assert numbers["displacement_px_generated"] < 0.5 and numbers["moving_along_share_generated"] == 0
