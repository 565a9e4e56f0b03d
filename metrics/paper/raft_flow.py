"""torchvision RAFT loaded from a local state_dict: optical flow for the paper motion backends."""

from __future__ import annotations

import functools
import math

import numpy as np

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
def load_raft(variant: str, path: str):
    """torchvision raft_large / raft_small with the state_dict at `path` (eval mode)."""
    import torch
    from torchvision.models.optical_flow import raft_large, raft_small

    model = (raft_large if variant == "large" else raft_small)(weights=None, progress=False)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


class RaftFlow:
    """Callable flow estimator f(frame_a, frame_b) -> (H, W, 2) px, on uint8 RGB frames.

    Frames under 128 px per side are upscaled by an integer factor for RAFT (bilinear) and the
    flow is average-pooled back and divided by the factor.

    Args:
        variant: "large" (default; VBench uses RAFT trained on Chairs + Things) or "small".
        weights_dir: folder searched first for the state_dict.
    """

    def __init__(self, variant: str = "large", weights_dir: str | None = None) -> None:
        self.variant = variant
        self.path = WeightsResolver(weights_dir).require(raft_key(variant))

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        model = load_raft(self.variant, str(self.path))
        pair = torch.from_numpy(np.stack([frame_a, frame_b])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        height, width = pair.shape[-2:]
        # torchvision's RAFT needs at least 128 px per side: upscale small frames by an integer
        # factor, then express the flow in input pixels again.
        factor = max(1, math.ceil(MIN_SIDE / min(height, width)))
        if factor > 1:
            pair = F.interpolate(pair, scale_factor=factor, mode="bilinear", align_corners=False)
        big_h, big_w = pair.shape[-2:]
        # RAFT needs sizes divisible by 8: replicate-pad, then crop the flow back.
        pair = F.pad(pair, (0, (-big_w) % 8, 0, (-big_h) % 8), mode="replicate")
        with torch.no_grad():
            flow = model(pair[:1], pair[1:], num_flow_updates=RAFT_UPDATES)[-1][:, :, :big_h, :big_w]
        if factor > 1:
            flow = F.avg_pool2d(flow, factor) / factor
        return flow[0].permute(1, 2, 0).numpy()
