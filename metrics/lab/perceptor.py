"""The lab perceptor: a small CNN that reads the lab world's state from a frame.

It is the lab world's measuring instrument, as pretrained networks are for the paper's
metrics. Two stages, so each is easy to learn on a CPU:

1. a *locator* looks at the whole 64×64 frame and gives subject presence, the subject
   centre (soft-argmax over a 16×16 heat map plus per-cell offsets) and the frame's
   degradation level;
2. a *reader* looks at a 32×32 crop around that centre (bilinear, so sub-pixel exact) and
   gives shape and colour probabilities, an identity embedding (L2-normalised, trained
   with a cosine-margin classifier over the identities, so cosine similarity compares
   identities never seen together) and whether the subject's structure is intact.

The checkpoint (safetensors) carries its own config and class names, so this module needs
nothing from the world that trained it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "results" / "checkpoints" / "perceptor.safetensors"
INPUT_SIZE = 64


class PerceptorCheckpointNotFoundError(FileNotFoundError):
    """The perceptor checkpoint file is missing."""


@dataclass(frozen=True)
class PerceptorConfig:
    """Architecture and class names; stored inside the checkpoint."""

    shapes: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "hexagon")
    colours: tuple[str, ...] = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
    num_identities: int = 12
    embedding_dim: int = 64
    locator_widths: tuple[int, ...] = (16, 24, 40, 64)
    reader_widths: tuple[int, ...] = (24, 40, 64, 96)
    crop_size: int = 32
    identity_scale: float = 16.0  # cosine-classifier logit scale

    @classmethod
    def from_json(cls, text: str) -> PerceptorConfig:
        raw = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Perception:
    """What the perceptor read from T frames (numpy arrays, first axis = frame).

    Attributes:
        present: (T,) probability that the subject is in the frame.
        position: (T, 2) subject centre (x, y) in pixels of a 64×64 frame (input pixels if
            the frames had another size), with (0, 0) the top-left corner.
        shape_probs: (T, len(shapes)); colour_probs: (T, len(colours)).
        identity: (T, D) L2-normalised identity embedding; compare with cosine similarity.
        identity_probs: (T, num_identities) over the training identities.
        structure_intact: (T,) probability that eyes, mouth and body are whole and in place.
        degradation: (T,) estimated degradation level in [0, 1] (0 = clean render).
        shapes, colours: the class names of the probability columns.
    """

    present: np.ndarray
    position: np.ndarray
    shape_probs: np.ndarray
    colour_probs: np.ndarray
    identity: np.ndarray
    identity_probs: np.ndarray
    structure_intact: np.ndarray
    degradation: np.ndarray
    shapes: tuple[str, ...] = field(default_factory=tuple)
    colours: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shape(self) -> list[str]:
        """Most likely shape name per frame."""
        return [self.shapes[i] for i in self.shape_probs.argmax(1)]

    @property
    def colour(self) -> list[str]:
        """Most likely colour name per frame."""
        return [self.colours[i] for i in self.colour_probs.argmax(1)]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


def _stage(cin: int, cout: int) -> nn.Sequential:
    """Halve the resolution, then one more conv."""
    return nn.Sequential(_conv(cin, cout, 2), _conv(cout, cout))


class Locator(nn.Module):
    """Whole frame → presence logit, heat map logits (16×16), cell offsets, degradation logit."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = _conv(3, w0)  # 64
        self.down1 = _stage(w0, w1)  # 32
        self.down2 = _stage(w1, w2)  # 16
        self.down3 = _stage(w2, w3)  # 8
        self.lateral = nn.Conv2d(w3, w2, 1)
        self.fuse = _conv(w2, w2)
        self.heat = nn.Conv2d(w2, 3, 1)  # logit, dx, dy per 4×4-pixel cell
        pooled = w0 + w1 + w2 + 2 * w3
        self.global_head = nn.Sequential(nn.Linear(pooled, 64), nn.SiLU(), nn.Linear(64, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f0 = self.stem(x)
        f1 = self.down1(f0)
        f2 = self.down2(f1)
        f3 = self.down3(f2)
        fused = self.fuse(f2 + F.interpolate(self.lateral(f3), scale_factor=2, mode="nearest"))
        heat = self.heat(fused)
        cell = INPUT_SIZE / heat.shape[-1]
        logits = heat[:, 0].flatten(1)  # (B, 256)
        weights = logits.softmax(1)
        n = heat.shape[-1]
        centres = (torch.arange(n, dtype=x.dtype, device=x.device) + 0.5) * cell
        cx = centres[None, None, :] + cell * torch.tanh(heat[:, 1])  # (B, n, n), offset within ±1 cell
        cy = centres[None, :, None] + cell * torch.tanh(heat[:, 2])
        position = torch.stack([(weights * cx.flatten(1)).sum(1), (weights * cy.flatten(1)).sum(1)], dim=1)
        # Low-level statistics (blur, noise, blocks) live in the early maps: pool every level.
        pooled = torch.cat(
            [f0.mean((2, 3)), f1.mean((2, 3)), f2.mean((2, 3)), f3.mean((2, 3)), f3.amax((2, 3))], dim=1
        )
        presence_logit, degradation_logit = self.global_head(pooled).unbind(1)
        return presence_logit, position, logits, degradation_logit


class Reader(nn.Module):
    """Subject-centred crop → shape logits, colour logits, identity embedding, intact logit."""

    def __init__(self, config: PerceptorConfig) -> None:
        super().__init__()
        w0, w1, w2, w3 = config.reader_widths
        self.features = nn.Sequential(
            _conv(3, w0), _stage(w0, w1), _stage(w1, w2), _stage(w2, w3)
        )  # 32 → 4
        flat = w3 * 4 * 4
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(flat, 192), nn.SiLU())
        self.shape = nn.Linear(192, len(config.shapes))
        self.colour = nn.Linear(192, len(config.colours))
        self.structure = nn.Linear(192, 1)
        self.embed = nn.Linear(192, config.embedding_dim)

    def forward(self, crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.trunk(self.features(crop))
        embedding = F.normalize(self.embed(h), dim=1)
        return self.shape(h), self.colour(h), embedding, self.structure(h).squeeze(1)


def crop_around(images: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear size×size crops of (B, 3, H, W) images centred on (B, 2) pixel positions (x, y)."""
    b, _, h, w = images.shape
    offsets = torch.arange(size, dtype=images.dtype, device=images.device) - size / 2 + 0.5
    xs = centres[:, 0:1] + offsets[None, :]  # (B, size) pixel coordinates of sample points
    ys = centres[:, 1:2] + offsets[None, :]
    grid_x = (2 * xs / w - 1)[:, None, :].expand(b, size, size)
    grid_y = (2 * ys / h - 1)[:, :, None].expand(b, size, size)
    grid = torch.stack([grid_x, grid_y], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


class LabPerceptorNet(nn.Module):
    """Locator + reader; `forward` returns every head's raw output as a dict."""

    def __init__(self, config: PerceptorConfig) -> None:
        super().__init__()
        self.config = config
        self.locator = Locator(config.locator_widths)
        self.reader = Reader(config)
        # Cosine classifier over identities: its normalised rows are identity prototypes.
        self.identity_prototypes = nn.Parameter(torch.randn(config.num_identities, config.embedding_dim) * 0.1)

    def forward(self, images: torch.Tensor, crop_centres: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """images: (B, 3, 64, 64) in [-1, 1]. crop_centres: where the reader looks (default: the
        locator's estimate; training passes jittered true centres)."""
        presence_logit, position, heat_logits, degradation_logit = self.locator(images)
        centres = position.detach() if crop_centres is None else crop_centres
        crop = crop_around(images, centres, self.config.crop_size)
        shape_logits, colour_logits, embedding, intact_logit = self.reader(crop)
        identity_cosine = embedding @ F.normalize(self.identity_prototypes, dim=1).T
        return {
            "presence_logit": presence_logit,
            "position": position,
            "heat_logits": heat_logits,
            "degradation_logit": degradation_logit,
            "shape_logits": shape_logits,
            "colour_logits": colour_logits,
            "embedding": embedding,
            "identity_cosine": identity_cosine,
            "intact_logit": intact_logit,
        }


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) → float (T, 3, 64, 64) in [-1, 1], area-resized if H, W ≠ 64."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
    return x


class LabPerceptor:
    """A loaded perceptor; `perceive(frames)` reads every frame."""

    def __init__(self, net: LabPerceptorNet) -> None:
        self.net = net.eval()
        self.config = net.config

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_CHECKPOINT) -> LabPerceptor:
        """Load a checkpoint written by `save` (default: the committed reference perceptor)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise PerceptorCheckpointNotFoundError(
                f"lab perceptor checkpoint not found: {path}. Train one with "
                "`fpbench train bench/train/configs/perceptor.yaml` (or bench.train.perceptor.train_perceptor)."
            )
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if "config" not in metadata:
            raise ValueError(f"{path} is not a lab perceptor checkpoint (no 'config' metadata)")
        net = LabPerceptorNet(PerceptorConfig.from_json(metadata["config"]))
        net.load_state_dict(load_file(str(path)))
        return cls(net)

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights + config as safetensors, atomically."""
        return save_perceptor(self.net, path)

    @torch.no_grad()
    def perceive(self, frames: np.ndarray, batch_size: int = 256) -> Perception:
        """Read uint8 frames (T, H, W, 3) (any size; resized to 64×64) into a `Perception`."""
        x = frames_to_tensor(frames)
        scale = np.array([frames.shape[-2] / INPUT_SIZE, frames.shape[-3] / INPUT_SIZE]) if frames.ndim == 4 else 1.0
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(x), batch_size):
            out = self.net(x[start : start + batch_size])
            values = {
                "present": out["presence_logit"].sigmoid(),
                "position": out["position"],
                "shape_probs": out["shape_logits"].softmax(1),
                "colour_probs": out["colour_logits"].softmax(1),
                "identity": out["embedding"],
                "identity_probs": (self.config.identity_scale * out["identity_cosine"]).softmax(1),
                "structure_intact": out["intact_logit"].sigmoid(),
                "degradation": out["degradation_logit"].sigmoid(),
            }
            for key, value in values.items():
                parts.setdefault(key, []).append(value.numpy())
        arrays = {key: np.concatenate(value) for key, value in parts.items()}
        arrays["position"] = arrays["position"] * scale
        return Perception(**arrays, shapes=self.config.shapes, colours=self.config.colours)


def save_perceptor(net: LabPerceptorNet, path: str | os.PathLike) -> Path:
    """Save a perceptor network (weights + config metadata) to safetensors atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"config": net.config.to_json(), "format": "lab-perceptor-v1"})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
