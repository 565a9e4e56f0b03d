"""reference_distance[paper]: FVD per window, with the I3D network from a local TorchScript file.

The Fréchet Video Distance (Unterthiner et al.) compares I3D (Kinetics-400) features of
generated and real clips. The file is the TorchScript detector that StyleGAN-V, DIGAN and
DFoT compute FVD with, `i3d_torchscript.pt`; its contract:

    detector(videos, rescale=False, resize=False, return_features=True) -> (N, 400) float
    videos: float (N, 3, T, 224, 224) in [-1, 1]

Each window of a video gives one clip: 16 frames sampled evenly over the window (repeated
when the window is shorter), resized to 224 × 224 (bilinear, antialiased), scaled to
[-1, 1]. FVD of window w is the Fréchet distance between the generated set's clip features
and the reference set's (one clip per video each): with N videos per set the Gaussian is
fitted to N samples in 400 dimensions, so compare values only at equal set sizes and read
them beside the real-vs-real floor.
"""

from __future__ import annotations

import functools

import numpy as np

from metrics.reference_distance import ReferenceDistance
from metrics.registry import register_set
from metrics.weights import WeightsResolver

CLIP_FRAMES = 16
I3D_SIZE = 224


@functools.lru_cache(maxsize=2)
def load_detector(path: str):
    """The TorchScript I3D detector on the CPU, in eval mode."""
    import torch

    return torch.jit.load(path, map_location="cpu").eval()


def clip_tensor(frames: np.ndarray, first: int, end: int):
    """float (1, 3, 16, 224, 224) in [-1, 1]: 16 frames sampled evenly from frames[first:end]."""
    import torch.nn.functional as F

    from metrics.tensors import to_float_tensor

    picks = np.linspace(first, end - 1, CLIP_FRAMES).round().astype(int)
    images = F.interpolate(to_float_tensor(frames[picks]), size=(I3D_SIZE, I3D_SIZE), mode="bilinear",
                           align_corners=False, antialias=True)
    return (images.clamp(0, 1) * 2.0 - 1.0).permute(1, 0, 2, 3).unsqueeze(0).contiguous()


@register_set
class FrechetVideoDistance(ReferenceDistance):
    backend = "paper"
    version = "1"
    description = ("set-level FVD per window: I3D (i3d_torchscript.pt) features vs real video from the same start "
                   "frames, with the real-vs-real floor")
    weights_key = "i3d_torchscript"

    def available(self) -> tuple[bool, str]:
        return WeightsResolver(self.weights_dir).availability(self.weights_key)

    def detector(self):
        return load_detector(str(WeightsResolver(self.weights_dir).require(self.weights_key)))

    def range_features(self, frames: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        import torch

        detector = self.detector()
        features = []
        with torch.no_grad():
            for first, end in ranges:
                output = detector(clip_tensor(frames, first, end), rescale=False, resize=False, return_features=True)
                if output.ndim != 2 or output.shape[0] != 1:
                    raise ValueError(f"{self.weights_key}: expected features (1, D) per clip, got {tuple(output.shape)}")
                features.append(output.double().numpy())
        return features
