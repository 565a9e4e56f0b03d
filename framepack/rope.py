"""3D rotary position embedding on the k1 grid, pooled to coarser kernels.

Positions are factorised into three axes (t, y, x): a head's channels are split into a t part, a y
part and an x part, each rotated by its own coordinate. Phases are computed on the k1 token grid at
the TRUE frame indices (so a gap between frames is a real RoPE distance), replicate-padded like the
latents, and average-pooled by the kernel's (t, h, w) / (1, 2, 2) ratio: a compressed token carries
the mean phase of the k1 cells it covers. Phases are linear in position, so pooling phases equals
rotating by the mean position; pooling angles (not cos/sin) keeps every rotation unit-norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from framepack.kernels import KERNEL_LEVELS, Kernel


@dataclass(frozen=True)
class RopeSpec:
    """Channels per axis (t, y, x) of one attention head, each even, and the frequency base."""

    axes_dims: tuple[int, int, int]
    theta: float = 10000.0

    def __post_init__(self) -> None:
        if len(self.axes_dims) != 3 or any(d < 0 or d % 2 for d in self.axes_dims):
            raise ValueError(f"rope axes_dims must be three even numbers (t, y, x), got {self.axes_dims}")

    @property
    def head_dim(self) -> int:
        return sum(self.axes_dims)

    @classmethod
    def for_head_dim(cls, head_dim: int, theta: float = 10000.0) -> RopeSpec:
        """A default split: about a quarter of the channels for time, the rest shared by y and x."""
        if head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
        pairs = head_dim // 2
        t_pairs = max(1, pairs // 4)
        y_pairs = (pairs - t_pairs) // 2
        x_pairs = pairs - t_pairs - y_pairs
        return cls((2 * t_pairs, 2 * y_pairs, 2 * x_pairs), theta)


def axis_frequencies(dim: int, theta: float) -> torch.Tensor:
    """(dim/2,) rotation frequencies of one axis, as in the usual 1D RoPE."""
    return 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / max(dim, 1))


def position_angles(positions: torch.Tensor, spec: RopeSpec) -> torch.Tensor:
    """Angles (..., head_dim/2) for positions (..., 3) given as (t, y, x)."""
    parts = []
    for axis, dim in enumerate(spec.axes_dims):
        if dim:
            parts.append(positions[..., axis : axis + 1].double() * axis_frequencies(dim, spec.theta))
    return torch.cat(parts, dim=-1).float()


def k1_grid_positions(frame_indices: torch.Tensor, grid_hw: tuple[int, int]) -> torch.Tensor:
    """(F, h1, w1, 3) positions (t, y, x) of the k1 tokens of F frames at their true indices."""
    height, width = grid_hw
    t = frame_indices.to(torch.float64).view(-1, 1, 1).expand(-1, height, width)
    y = torch.arange(height, dtype=torch.float64).view(1, -1, 1).expand(t.shape)
    x = torch.arange(width, dtype=torch.float64).view(1, 1, -1).expand(t.shape)
    return torch.stack([t, y, x], dim=-1)


def k1_grid_hw(latent_hw: tuple[int, int]) -> tuple[int, int]:
    """The k1 token grid of a latent frame (replicate-padded to whole k1 cells)."""
    _, kh, kw = KERNEL_LEVELS[1]
    return (-(-latent_hw[0] // kh), -(-latent_hw[1] // kw))


def pool_grid(values: torch.Tensor, ratio: tuple[int, int, int], reduce: str = "mean") -> torch.Tensor:
    """Replicate-pad a (F, h, w, K) grid to multiples of `ratio` and pool it by `ratio`.

    Args:
        values: per-cell values on the k1 grid, channels last.
        ratio: cells per pooled cell along (t, h, w) — a kernel's `ratio`.
        reduce: "mean" (RoPE phases, timesteps) or "max" (the latest frame a token covers).

    Returns:
        (F', h', w', K) with F' = ceil(F / ratio_t) etc.
    """
    grid = values.permute(3, 0, 1, 2).unsqueeze(0)  # (1, K, F, h, w)
    pads = [(-size) % r for size, r in zip(grid.shape[2:], ratio, strict=True)]
    if any(pads):
        dtype = grid.dtype
        grid = F.pad(grid.double(), (0, pads[2], 0, pads[1], 0, pads[0]), mode="replicate").to(dtype)
    if reduce == "mean":
        pooled = F.avg_pool3d(grid.double(), ratio, ratio).to(values.dtype)
    elif reduce == "max":
        pooled = F.max_pool3d(grid.double(), ratio, ratio).to(values.dtype)
    else:
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    return pooled.squeeze(0).permute(1, 2, 3, 0)


def kernel_angles(frame_indices: torch.Tensor, latent_hw: tuple[int, int], kernel: Kernel, spec: RopeSpec) -> torch.Tensor:
    """(N, head_dim/2) RoPE angles of the tokens `kernel` makes from frames at `frame_indices`.

    Token order is (t, y, x) row-major, matching the patch embedding's flattened output.
    """
    grid = position_angles(k1_grid_positions(frame_indices, k1_grid_hw(latent_hw)), spec)
    return pool_grid(grid, kernel.ratio).reshape(-1, spec.head_dim // 2)


def rotation(angles: torch.Tensor) -> torch.Tensor:
    """Unit complex numbers e^{i·angle}, (N, head_dim/2): compute once per forward, reuse per layer."""
    return torch.polar(torch.ones_like(angles, dtype=torch.float32), angles.float())


def apply_rotation(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (2i, 2i+1) of x (..., N, head_dim) by `rotation(angles)` (N, head_dim/2)."""
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * rotations).flatten(-2).to(x.dtype)


def apply_rope(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (2i, 2i+1) of x (..., N, head_dim) by angles (N, head_dim/2)."""
    return apply_rotation(x, rotation(angles))
