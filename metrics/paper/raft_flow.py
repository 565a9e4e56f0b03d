"""torchvision RAFT loaded from a local state_dict: optical flow for the paper motion backends."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np

from metrics.paper.inference import InferenceSettings
from metrics.weights import WeightsResolver

RAFT_KEYS = {"large": "raft_large", "small": "raft_small"}
RAFT_UPDATES = 20  # VBench runs RAFT with iters=20
MIN_SIDE = 128  # torchvision's RAFT correlation pyramid needs feature maps of at least 16 px


def raft_key(variant: str) -> str:
    """Weights key of a RAFT variant ("large" | "small")."""
    if variant not in RAFT_KEYS:
        raise ValueError(f"RAFT variant must be one of {sorted(RAFT_KEYS)}, got {variant!r}")
    return RAFT_KEYS[variant]


@functools.lru_cache(maxsize=2)
def load_raft(variant: str, path: str, device: str = "cpu"):
    """torchvision raft_large / raft_small with the state_dict at `path` (eval mode, on `device`)."""
    import torch
    from torchvision.models.optical_flow import raft_large, raft_small

    model = (raft_large if variant == "large" else raft_small)(weights=None, progress=False)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().to(device)


class RaftFlow:
    """Flow estimator on uint8 RGB frames: f(frame_a, frame_b) -> (H, W, 2) px, or `pairs` for many
    pairs at a time (`inference.batch_size` per RAFT call).

    Frames under 128 px per side are upscaled by an integer factor for RAFT (bilinear) and the
    flow is average-pooled back and divided by the factor.

    Args:
        variant: "large" (default; VBench uses RAFT trained on Chairs + Things) or "small".
        weights_dir: folder searched first for the state_dict.
        inference: device, dtype and pairs per batch (default: cuda if available, float32, 16).
    """

    def __init__(self, variant: str = "large", weights_dir: str | None = None,
                 inference: InferenceSettings | None = None) -> None:
        self.variant = variant
        self.path = WeightsResolver(weights_dir).require(raft_key(variant))
        self.inference = inference or InferenceSettings()

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return next(self.pairs(frame_a[None], frame_b[None]))

    def pairs(self, frames_a: np.ndarray, frames_b: np.ndarray) -> Iterator[np.ndarray]:
        """Flow (H, W, 2) from frames_a[i] to frames_b[i] for each i, computed a batch at a time."""
        import torch
        import torch.nn.functional as F

        device = self.inference.resolved_device()
        model = load_raft(self.variant, str(self.path), str(device))
        height, width = frames_a.shape[1:3]
        # torchvision's RAFT needs at least 128 px per side: upscale small frames by an integer
        # factor, then express the flow in input pixels again.
        factor = max(1, math.ceil(MIN_SIDE / min(height, width)))
        for batch in self.inference.batches(len(frames_a)):
            first, second = (torch.from_numpy(np.ascontiguousarray(f[batch])).permute(0, 3, 1, 2).float()
                             .to(device) / 127.5 - 1.0 for f in (frames_a, frames_b))
            if factor > 1:
                first, second = (F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
                                 for x in (first, second))
            big_h, big_w = first.shape[-2:]
            # RAFT needs sizes divisible by 8: replicate-pad, then crop the flow back.
            first, second = (F.pad(x, (0, (-big_w) % 8, 0, (-big_h) % 8), mode="replicate") for x in (first, second))
            with torch.no_grad(), self.inference.autocast():
                flow = model(first, second, num_flow_updates=RAFT_UPDATES)[-1][:, :, :big_h, :big_w].float()
            if factor > 1:
                flow = F.avg_pool2d(flow, factor) / factor
            yield from flow.permute(0, 2, 3, 1).cpu().numpy()
