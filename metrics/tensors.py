"""Conversions between uint8 video arrays and torch tensors, shared by the network backends."""

from __future__ import annotations

import numpy as np


def to_float_tensor(frames: np.ndarray):
    """uint8 (T, H, W, 3) -> float32 torch (T, 3, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


def to_uint8_frames(tensor) -> np.ndarray:
    """float torch (T, 3, H, W) in [0, 1] -> uint8 (T, H, W, 3), rounded and clipped."""
    array = tensor.detach().clamp(0, 1).mul(255).round().to("cpu").numpy().astype(np.uint8)
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1))


def resize_longer_side(frames: np.ndarray, longest: int) -> np.ndarray:
    """Shrink frames so the longer side is at most `longest` (area interpolation); unchanged otherwise."""
    import cv2

    height, width = frames.shape[1:3]
    if max(height, width) <= longest:
        return frames
    scale = longest / max(height, width)
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames])
