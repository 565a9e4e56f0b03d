"""i2v_subject / i2v_background, paper backends: VBench-I2V's fidelity to the input image.

i2v_subject: DINO ViT-B/16 (the `dino_vitbase16_pretrain.pth` state_dict VBench-I2V loads) class
    token of each frame and of the input image. Frames and image are resized so the short side is
    224 (VBench's dino_transform, no crop), scaled to [0, 1] and normalised with ImageNet's mean and
    std; the ViT interpolates its position embeddings to the frame's aspect ratio. The architecture
    is read from the state_dict (embedding width, depth; 64 channels per head), so the file is the
    only thing needed.
i2v_background: DreamSim embeddings (VBench-I2V's background model) from a TorchScript export,
    `dreamsim_embed.pt`: f(images (N, 3, 224, 224) float [0, 1]) -> (N, D); frames and image are
    resized to 224 × 224 (bicubic), as VBench's dreamsim_transform.
Both score with `metrics.i2v_score` (VBench's weights); per-frame values are the similarity to
the input image, so a fidelity drift shows in the curve.
"""

from __future__ import annotations

import functools

import numpy as np

from metrics.i2v_score import BACKGROUND_WEIGHTS, SUBJECT_WEIGHTS, cosine_i2v_result, require_input_image
from metrics.metric import Metric, MetricResult
from metrics.paper.inference import NetworkMetric
from metrics.registry import register
from metrics.weights import WeightsResolver

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = 224
BATCH = 16


@functools.lru_cache(maxsize=2)
def load_dino(path: str):
    """A DINO ViT (timm VisionTransformer, class-token output) built from the shapes of a DINO state_dict."""
    import timm
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "teacher" in state:  # a full DINO training checkpoint
        state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state["teacher"].items()}
    if "pos_embed" not in state or "patch_embed.proj.weight" not in state:
        raise ValueError(f"{path}: not a DINO ViT state_dict (no pos_embed / patch_embed.proj.weight)")
    width = int(state["pos_embed"].shape[-1])
    patch = int(state["patch_embed.proj.weight"].shape[-1])
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    grid = round((state["pos_embed"].shape[1] - 1) ** 0.5)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=grid * patch, patch_size=patch, embed_dim=width, depth=depth, num_heads=max(1, width // 64),
        num_classes=0, dynamic_img_size=True)
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    model.load_state_dict(state, strict=True)
    return model.eval()


@functools.lru_cache(maxsize=2)
def load_torchscript_embedder(path: str):
    import torch

    return torch.jit.load(path, map_location="cpu").eval()


def dino_input(images: np.ndarray):
    """uint8 (N, H, W, 3) -> normalised float (N, 3, h, w) with the short side 224 (bilinear, no antialias,
    as torchvision's Resize(224, antialias=False) in VBench)."""
    import torch
    import torch.nn.functional as F

    from metrics.tensors import to_float_tensor

    x = to_float_tensor(images)
    height, width = x.shape[-2:]
    scale = SIZE / min(height, width)
    size = (max(SIZE, round(height * scale)), max(SIZE, round(width * scale)))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def square_input(images: np.ndarray):
    """uint8 (N, H, W, 3) -> float (N, 3, 224, 224) in [0, 1] (bicubic)."""
    import torch.nn.functional as F

    from metrics.tensors import to_float_tensor

    return F.interpolate(to_float_tensor(images), size=(SIZE, SIZE), mode="bicubic", align_corners=False).clamp(0, 1)


class _EmbeddingFidelity(NetworkMetric, Metric):
    backend = "paper"
    granularity = "per_frame"
    min_frames = 2
    weights_key = ""
    weights: tuple[float, float, float] = SUBJECT_WEIGHTS

    def __init__(self, weights_dir: str | None = None, device: str | None = None, dtype: str = "float32",
                 batch_size: int = BATCH) -> None:
        super().__init__(weights_dir)
        self._set_inference(device, dtype, batch_size)

    @property
    def cache_version(self) -> str:
        return self.version + self.inference.version_suffix()

    def _run(self, model, inputs):
        """`model(inputs)` on the inference device and dtype, as float64 numpy on the CPU."""
        import torch

        model = model.to(self.inference.resolved_device())
        with torch.no_grad(), self.inference.autocast():
            return model(inputs.to(self.inference.resolved_device())).double().cpu().numpy()

    def available(self) -> tuple[bool, str]:
        return WeightsResolver(self.weights_dir).availability(self.weights_key)

    def embed(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def measure(self, frames, prompt, reference, fps) -> MetricResult:
        image = require_input_image(reference, f"{self.name}[{self.backend}]")
        embeddings = np.concatenate([self.embed(frames[batch]) for batch in self.inference.batches(len(frames))])
        return cosine_i2v_result(embeddings, self.embed(image[None])[0], self.weights)


@register
class I2VSubjectDINO(_EmbeddingFidelity):
    name = "i2v_subject"
    version = "1"
    weights_key = "dino_vitb16"
    weights = SUBJECT_WEIGHTS
    description = "VBench-I2V subject fidelity: DINO ViT-B/16 cosine to the input image (0.5 max + 0.5 mean consecutive)"

    def embed(self, images: np.ndarray) -> np.ndarray:
        model = load_dino(str(WeightsResolver(self.weights_dir).require(self.weights_key)))
        return self._run(model, dino_input(images))


@register
class I2VBackgroundDreamSim(_EmbeddingFidelity):
    name = "i2v_background"
    version = "1"
    weights_key = "dreamsim_embedder"
    weights = BACKGROUND_WEIGHTS
    description = "VBench-I2V background fidelity: DreamSim cosine to the input image (0.4 max + 0.3 mean + 0.3 min)"

    def embed(self, images: np.ndarray) -> np.ndarray:
        model = load_torchscript_embedder(str(WeightsResolver(self.weights_dir).require(self.weights_key)))
        output = self._run(model, square_input(images))
        if output.ndim != 2 or output.shape[0] != len(images):
            raise ValueError(f"{self.weights_key}: expected embeddings ({len(images)}, D), got {tuple(output.shape)}")
        return output
