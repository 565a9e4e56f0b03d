"""Aesthetic and semantic, paper backends, on open_clip (CLIP ViT-L/14 from a local file).

aesthetic: VBench's LAION predictor: a Linear(768, 1) head on the L2-normalised image embedding
    (head="linear", default) or the improved MLP head (head="mlp"), per frame, divided by 10.
semantic: cosine similarity between the prompt's text embedding and each frame's image embedding
    (per-frame CLIP score; ViCLIP is not bundled: pass `clip_model=` another open_clip
    architecture name, with its weights placed at the CLIP file's path).
Frames are resized (bicubic) so the short side is 224, centre-cropped to 224, and normalised
with CLIP's mean and std, as VBench's clip_transform.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from metrics.metric import Metric, MetricResult, MetricUnavailableError, per_frame_result
from metrics.paper.inference import NetworkMetric
from metrics.registry import register
from metrics.tensors import to_float_tensor
from metrics.weights import MissingWeightsError, WeightsResolver

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_CLIP_MODEL = "ViT-L-14-quickgelu"  # OpenAI's ViT-L/14 uses QuickGELU


@functools.lru_cache(maxsize=2)
def load_clip(model_name: str, path: str, device: str = "cpu"):
    """open_clip model (eval) and tokenizer from a local weights file; cached per (architecture, file, device)."""
    try:
        import open_clip
    except ImportError as error:
        raise MetricUnavailableError(f"open_clip is not installed (extra paper-metrics): {error}") from error
    model = open_clip.create_model(model_name, pretrained=path, device=device)
    return model.eval(), open_clip.get_tokenizer(model_name)


def clip_preprocess(frames: np.ndarray, size: int = 224):
    """uint8 (T, H, W, 3) -> normalised float (T, 3, size, size): short side to size, centre crop."""
    import torch
    import torch.nn.functional as F

    images = to_float_tensor(frames)
    height, width = images.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    images = F.interpolate(images, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    images = images[..., top:top + size, left:left + size].clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def laion_mlp_head(embed_dim: int = 768):
    """The improved-aesthetic-predictor MLP; parameter names (layers.0, .2, .4, .6, .7) match its
    released state_dict."""
    from torch import nn

    class LaionMLPHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(embed_dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1),
            )

        def forward(self, x):
            return self.layers(x)

    return LaionMLPHead()


class _ClipMetric(NetworkMetric, Metric):
    clip_key = "clip_vit_l14"

    def __init__(self, weights_dir: str | None = None, clip_model: str = DEFAULT_CLIP_MODEL,
                 device: str | None = None, dtype: str = "float32", batch_size: int = 16) -> None:
        super().__init__(weights_dir)
        self.clip_model = clip_model
        self._set_inference(device, dtype, batch_size)

    @property
    def cache_version(self) -> str:
        version = self.version if self.clip_model == DEFAULT_CLIP_MODEL else f"{self.version}+{self.clip_model}"
        return version + self.inference.version_suffix()

    def weight_keys(self) -> list[str]:
        return [self.clip_key]

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("open_clip") is None:
            return False, "open_clip is not installed (extra paper-metrics)"
        resolver = WeightsResolver(self.weights_dir)
        try:
            for key in self.weight_keys():
                resolver.require(key)
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def clip(self):
        path = WeightsResolver(self.weights_dir).require(self.clip_key)
        return load_clip(self.clip_model, str(path), str(self.inference.resolved_device()))

    def image_embeddings(self, frames: np.ndarray):
        """L2-normalised CLIP image embeddings (T, D), float32 on the CPU, `batch_size` frames per call."""
        import torch

        model, _ = self.clip()
        device = self.inference.resolved_device()
        with torch.no_grad(), self.inference.autocast():
            features = torch.cat([model.encode_image(clip_preprocess(frames[batch]).to(device)).float().cpu()
                                  for batch in self.inference.batches(len(frames))])
        return torch.nn.functional.normalize(features, dim=-1)


@register
class AestheticLAION(_ClipMetric):
    name = "aesthetic"
    backend = "paper"
    granularity = "per_frame"
    streamable = True
    version = "1"
    description = "LAION aesthetic head on CLIP ViT-L/14 image embedding, /10 (VBench; head=linear|mlp)"

    def __init__(self, weights_dir: str | None = None, clip_model: str = DEFAULT_CLIP_MODEL,
                 head: str = "linear", device: str | None = None, dtype: str = "float32",
                 batch_size: int = 16) -> None:
        super().__init__(weights_dir, clip_model, device, dtype, batch_size)
        if head not in ("linear", "mlp"):
            raise ValueError(f"aesthetic head must be 'linear' or 'mlp', got {head!r}")
        self.head_kind = head
        self._head = None

    @property
    def cache_version(self) -> str:
        return f"{super().cache_version}+{self.head_kind}"

    def weight_keys(self) -> list[str]:
        return [self.clip_key, "laion_linear_head" if self.head_kind == "linear" else "laion_mlp_head"]

    def head(self):
        """The aesthetic head loaded from its local state_dict (loaded once)."""
        if self._head is None:
            import torch
            from torch import nn

            path = WeightsResolver(self.weights_dir).require(self.weight_keys()[1])
            head = nn.Linear(768, 1) if self.head_kind == "linear" else laion_mlp_head(768)
            head.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            self._head = head.eval()
        return self._head

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        import torch

        embeddings = self.image_embeddings(frames)
        head = self.head()
        with torch.no_grad():
            values = head(embeddings).reshape(-1).numpy().astype(np.float64) / 10.0
        return per_frame_result(values, head=self.head_kind)


@register
class SemanticCLIP(_ClipMetric):
    name = "semantic"
    backend = "paper"
    granularity = "per_frame"
    streamable = True
    version = "1"
    description = "CLIP ViT-L/14 cosine(prompt, frame) per frame (ViCLIP pluggable via clip_model)"

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        import torch

        if not prompt.strip():
            raise ValueError("semantic[paper]: the video has no prompt (give --prompts or a sidecar .txt)")
        model, tokenizer = self.clip()
        device = self.inference.resolved_device()
        with torch.no_grad(), self.inference.autocast():
            text = model.encode_text(tokenizer([prompt]).to(device)).float().cpu()
        text = torch.nn.functional.normalize(text, dim=-1)
        values = (self.image_embeddings(frames) @ text.T).reshape(-1).numpy().astype(np.float64)
        return per_frame_result(values)
