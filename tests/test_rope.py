import itertools

import torch

from framepack.kernels import Kernel
from framepack.rope import (
    RopeSpec,
    apply_rope,
    k1_grid_hw,
    k1_grid_positions,
    kernel_angles,
    position_angles,
)

SPEC = RopeSpec((4, 6, 6), theta=100.0)


def brute_force_pooled_angles(frame_indices, latent_hw, kernel, spec):
    """For each token, average the k1 phases of the cells it covers, clamping padded cells to the
    last real one (replicate padding), written out with plain loops."""
    h1, w1 = k1_grid_hw(latent_hw)
    k1 = position_angles(k1_grid_positions(frame_indices, (h1, w1)), spec)  # (F, h1, w1, D/2)
    rt, rh, rw = kernel.ratio
    frames = len(frame_indices)
    tokens = []
    for ft in range(-(-frames // rt)):
        for fy in range(-(-h1 // rh)):
            for fx in range(-(-w1 // rw)):
                cells = [
                    k1[min(ft * rt + a, frames - 1), min(fy * rh + b, h1 - 1), min(fx * rw + c, w1 - 1)]
                    for a, b, c in itertools.product(range(rt), range(rh), range(rw))
                ]
                tokens.append(torch.stack(cells).double().mean(0))
    return torch.stack(tokens).float()


def test_pooled_phase_equals_mean_of_covered_k1_phases():
    indices = torch.tensor([3, 4, 5, 9, 10])  # true indices with a gap; 5 frames do not divide by 2 or 4
    for kernel in [Kernel.from_level(2), Kernel.from_level(4), Kernel(4, 2, 2), Kernel(1, 4, 8)]:
        for latent_hw in [(8, 8), (12, 10), (6, 14)]:
            pooled = kernel_angles(indices, latent_hw, kernel, SPEC)
            expected = brute_force_pooled_angles(indices, latent_hw, kernel, SPEC)
            assert pooled.shape == expected.shape
            torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-5)


def test_k1_angles_use_true_frame_indices():
    near = kernel_angles(torch.tensor([0]), (4, 4), Kernel.from_level(1), SPEC)
    far = kernel_angles(torch.tensor([100]), (4, 4), Kernel.from_level(1), SPEC)
    t_pairs = SPEC.axes_dims[0] // 2
    assert torch.allclose(near[:, t_pairs:], far[:, t_pairs:])  # same y/x phases
    assert not torch.allclose(near[:, :t_pairs], far[:, :t_pairs])


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, SPEC.head_dim), torch.randn(1, 1, 1, SPEC.head_dim)

    def score(pos_q, pos_k):
        angle_q = position_angles(torch.tensor([pos_q], dtype=torch.float64), SPEC)
        angle_k = position_angles(torch.tensor([pos_k], dtype=torch.float64), SPEC)
        return (apply_rope(q, angle_q) * apply_rope(k, angle_k)).sum()

    assert torch.allclose(score([5, 1, 2], [2, 0, 0]), score([13, 4, 3], [10, 3, 1]), atol=1e-5)
    assert not torch.allclose(score([5, 1, 2], [2, 0, 0]), score([5, 1, 2], [1, 0, 0]), atol=1e-3)
    rotated = apply_rope(q, position_angles(torch.tensor([[7.0, 3.0, 2.0]]), SPEC))
    assert torch.allclose(rotated.norm(), q.norm(), atol=1e-5)


def test_default_rope_split_covers_the_head():
    for head_dim in (8, 16, 24, 32, 64):
        spec = RopeSpec.for_head_dim(head_dim)
        assert spec.head_dim == head_dim and all(d % 2 == 0 and d > 0 for d in spec.axes_dims)
