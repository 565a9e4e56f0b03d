import torch

from framepack.kernels import K1, Kernel
from framepack.lab.context_anchor import nearest_context
from framepack.packed_group import PackedGroup

SHAPE = (2, 3, 4, 4, 4)  # B, C, F, H, W


def frames(*values: float) -> torch.Tensor:
    """(2, 3, len(values), 4, 4) latents, frame i filled with values[i] (batch item 1 negated)."""
    one = torch.stack([torch.full((3, 4, 4), v) for v in values], dim=1)
    return torch.stack([one, -one])


def test_each_noisy_frame_gets_its_nearest_real_k1_frame():
    start = PackedGroup(frames(1.0), torch.tensor([0]), K1)
    history = PackedGroup(frames(5.0, 6.0), torch.tensor([10, 11]), K1)
    coarse = PackedGroup(frames(9.0, 9.0), torch.tensor([3, 4]), Kernel.from_level(2))  # never a candidate
    anchor = nearest_context(SHAPE, torch.tensor([2, 3, 7, 9]), [coarse, history, start])[0]
    assert anchor[0, :, :, 0, 0].tolist() == [[1.0, 1.0, 5.0, 5.0]] * 3
    assert anchor[1, 0, :, 0, 0].tolist() == [-1.0, -1.0, -5.0, -5.0]


def test_zero_filled_and_fully_noised_frames_are_skipped():
    start = PackedGroup(frames(1.0), torch.tensor([0]), K1)
    blank = PackedGroup(frames(0.0), torch.tensor([5]), K1)  # zero-filled: not yet generated
    noised = PackedGroup(frames(7.0), torch.tensor([6]), K1, timesteps=torch.ones(2, 1))
    anchor = nearest_context(SHAPE, torch.tensor([4, 5, 6, 7]), [start, blank, noised])[0]
    assert anchor[0, 0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_without_real_context_the_start_image_then_zero_is_used():
    blank = PackedGroup(frames(0.0), torch.tensor([5]), K1)
    image = torch.full((2, 3, 4, 4), 3.0)
    assert nearest_context(SHAPE, torch.arange(4), [blank], image)[0].eq(3.0).all()
    assert nearest_context(SHAPE, torch.arange(4), [], image)[0].eq(3.0).all()
    assert nearest_context(SHAPE, torch.arange(4), [blank])[0].eq(0.0).all()


def test_the_anchor_reports_the_time_index_it_came_from():
    start = PackedGroup(frames(1.0), torch.tensor([0]), K1)
    history = PackedGroup(frames(5.0, 6.0), torch.tensor([10, 11]), K1)
    _, index = nearest_context(SHAPE, torch.tensor([2, 3, 7, 12]), [history, start])
    assert index.tolist() == [[0.0, 0.0, 10.0, 11.0]] * 2
    blank = PackedGroup(frames(0.0), torch.tensor([5]), K1)
    _, fallback = nearest_context(SHAPE, torch.arange(4), [blank], torch.full((2, 3, 4, 4), 3.0))
    assert fallback.eq(0).all()  # the start image is frame 0
