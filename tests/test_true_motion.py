"""The world's true motion, the targets of a motion prior."""

import pytest

from bench.train.true_motion import MOTION_COLUMNS, motion_table
from bench.world import sample_clip


def test_motion_table_follows_the_rendered_clip():
    clip = sample_clip(7, 5)
    table = motion_table([7], 5)
    assert table.shape == (1, 5, len(MOTION_COLUMNS))
    assert table[0, :, 0].tolist() == pytest.approx([s.x for s in clip.states], abs=1e-4)
    assert table[0, :, 1].tolist() == pytest.approx([s.y for s in clip.states], abs=1e-4)
