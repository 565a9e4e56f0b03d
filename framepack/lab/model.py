"""PackedDiT: the lab-scale packed video diffusion transformer.

A small DiT over packed frame context (see `framepack.packing`): one patch embedding per kernel,
3D RoPE with pooled phases, adaLN-Zero conditioning with one diffusion time per frame (every token
takes its frame's time; context may carry its own times, default 0 = clean), text by
cross-attention, an optional image embedding, full / causal / block-causal attention masks and a KV
cache for clean context. `forward` always returns the flow-matching velocity v = noise − x0.

Why cross-attention for text (not joint tokens): text tokens that joined the self-attention would
attend to every frame, and a later frame's information could flow through them back into earlier
frames — breaking the causal and block-causal masks and the KV cache. As a separate memory, text
carries nothing between frames. A pooled text (and image) vector is also added to the adaLN
conditioning, which helps a small model.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from framepack.attention import ATTENTION_MODES, KVCache, attention_mask
from framepack.kernels import K1, Kernel
from framepack.lab.anchor_warp import FLOW_SCALE_PX, RESAMPLING, VELOCITY_SCALE_PX, PixelView
from framepack.lab.context_anchor import nearest_context, nearest_context_frames
from framepack.lab.motion_prior import MotionPrior, SectionMotion, rigid_flow
from framepack.lab.text_encoder import LabConditioning, LabTextEncoder
from framepack.packed_group import PackedGroup
from framepack.packing import (
    PatchEmbedding,
    TokenBlock,
    concat_blocks,
    context_order,
    embed_grid,
    embed_tail,
    pad_to_kernel,
    unpatchify_k1,
)
from framepack.rope import RopeSpec, apply_rotation, rotation
from framepack.section_cache import SectionCache, cached

__all__ = ["PackedDiT", "PackedDiTConfig", "LabConditioning", "KVCache", "CheckpointNotFoundError", "preconditioning"]

PREDICTIONS = ("velocity", "x0", "preconditioned", "anchored")
WARP_FLOWS = ("per_frame", "velocity", "rigid", "prior")
# Raw flow-head channels per latent pixel for each `warp_flow`.
FLOW_CHANNELS = {"per_frame": 2, "velocity": 2, "rigid": 5, "prior": 0}
CHECKPOINT_FORMAT = "framepack-bench/PackedDiT/1"


class Anchors(NamedTuple):
    """An anchored model's per-frame anchors (B, C, F, h, w): `context` as taken from the nearest
    context frame, `moved` after the predicted flow (the same tensor without `anchor_warp`), and
    that flow (B, 2, F, h, w) in pixels (None without `anchor_warp`). With `warp_flow="prior"`, also
    the motion prior's velocity logits (B, K) and membership logits (B, F, h', w') for its losses."""

    context: torch.Tensor
    moved: torch.Tensor
    flow: torch.Tensor | None = None
    velocity_logits: torch.Tensor | None = None
    membership_logits: torch.Tensor | None = None


def _per_frame(timesteps: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """(B, F) or (B,) timesteps as (B, 1, F, 1, 1), broadcastable against the noisy latents."""
    batch, _, frames = noisy.shape[:3]
    t = torch.as_tensor(timesteps, dtype=noisy.dtype, device=noisy.device)
    return t.reshape(batch, -1).expand(batch, frames).reshape(batch, 1, frames, 1, 1)


def preconditioning(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(c_skip, c_out) of x0_hat = c_skip·x_t + c_out·F on the path x_t = (1 − t)·x0 + t·noise.

    EDM's choice for unit-variance data: c_skip = (1 − t)/n², c_out = t/n with n² = (1 − t)² + t²
    (the variance of x_t); the network's own target (t·x0 − (1 − t)·noise)/n then has unit
    variance at every t.
    """
    norm_sq = (1 - t) ** 2 + t**2
    return (1 - t) / norm_sq, t / norm_sq.sqrt()


class CheckpointNotFoundError(FileNotFoundError):
    """A model checkpoint path does not exist."""


@dataclass
class PackedDiTConfig:
    """Everything needed to rebuild a PackedDiT.

    Args:
        latent_channels: C of the latents (the codec's latent channels).
        dim: token width.
        depth: transformer blocks.
        heads: attention heads (dim / heads must be even, for RoPE).
        mlp_ratio: MLP hidden width / dim.
        kernels: context kernels that get a patch embedding, in notation (`k2`, `k4h2w2`, ...);
            k1 is always included.
        rope_axes: channels per head for (t, y, x); None picks a split of dim / heads.
        rope_theta: RoPE frequency base.
        text_vocab, text_max_tokens: `LabTextEncoder` settings the text embedding is sized for.
        text_layers: self-attention layers over the prompt's word embeddings.
        image_conditioning: accept `LabConditioning.image_latent` (a start frame) as extra
            cross-attention tokens.
        prediction: the network's internal target, "velocity", "x0", "preconditioned" or
            "anchored"; forward returns velocity either way (for x0: v = (x_t − x0_hat) / max(t, x0_min_t)).
            "preconditioned" is EDM's skip parametrisation for the flow path (see
            `preconditioning`): x0_hat = c_skip·x_t + c_out·F, so at low noise the input passes
            through (fine detail survives a small network) and at high noise F is an x0 estimate.
            "anchored" is the same around each frame's nearest real context frame a
            (`framepack.lab.context_anchor`): the network sees the noisy residual r_t = x_t − (1 − t)·a
            and x0_hat = a + c_skip·r_t + c_out·F, so an untrained network already copies the last
            frame and F only learns what changes.
        anchor_input: ("anchored" only) also embed the anchor a itself into each noisy token, as
            image-to-video models concatenate the image latent to the noisy input: what moves is
            a shift of a, which is then local to the token instead of an attention lookup.
            Measured on the lab base: better held-out error, blurred samples (results/checkpoints/
            base_trials/motion_trials.json, trials D, E3, F); the reference checkpoints do not use it.
        anchor_gate: "none" or "t": scale the anchor's embedding by the frame's time t.
        anchor_warp: ("anchored" only) the network also predicts a flow per latent pixel, and the
            anchor is moved along it in pixels before the correction is added
            (`framepack.lab.anchor_warp`): x0_hat = ã + c_skip·r̃_t + c_out·F with ã the warped anchor.
            Needs the linear codec's basis (`PixelView.copy_from_codec`, done by the training recipes).
        warp_patch: pixels per latent pixel of that codec (its downsample).
        warp_flow: "per_frame" (each noisy frame's own flow) or "velocity": one velocity field per
            section, the running mean of the frames' outputs in time order (so causal masks still
            hold), times each frame's distance in frames from its anchor, as the world's subjects
            move smoothly. "rigid": each latent pixel's flow blends two velocities per section, the
            subject's and the background's (each the spatial mean of two head channels, so one
            pair of numbers per frame, then the same causal running mean), by a per-pixel
            membership (sigmoid of a fifth channel): one rigid subject moving over a panning
            background needs five numbers per latent pixel to be learned, not a coherent field.
            "prior": no flow head; a `framepack.lab.motion_prior.MotionPrior` gives a distribution over
            the subject's velocity (the sampler draws one per section, `draw_motion`) and the
            subject's membership in each anchor at 2-px cells, and the anchor's subject moves
            rigidly by it before the network sees the residual around the moved anchor.
        warp_resample: how the warp reads pixels between samples, "bilinear" or "bicubic" (sharper).
        warp_refiner_width, warp_refiner_blocks: 0, or the codec's `refiner_width` and `refiner_blocks`:
            the warp moves the refined decode (a frozen copy of the codec's refiner), not the linear
            one, whose faint block edges leave the patch grid when shifted.
        x0_min_t: the clamp on t when converting an x0 prediction to velocity.
        context_sees_noisy: let context tokens attend to noisy tokens (the released FramePack does).
            False makes the context independent of the noisy input in every mask mode, so the KV
            cache works with full attention too.
        seed: initialisation seed (a model is a pure function of its config at init).
    """

    latent_channels: int = 8
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    kernels: tuple[str, ...] = ("k1", "k2", "k4")
    rope_axes: tuple[int, int, int] | None = None
    rope_theta: float = 10000.0
    text_vocab: int = 2048
    text_max_tokens: int = 32
    text_layers: int = 1
    image_conditioning: bool = True
    prediction: str = "velocity"
    anchor_input: bool = False
    anchor_gate: str = "none"
    anchor_warp: bool = False
    warp_patch: int = 8
    warp_flow: str = "per_frame"
    warp_resample: str = "bilinear"
    warp_refiner_width: int = 0
    warp_refiner_blocks: int = 2
    x0_min_t: float = 0.05
    context_sees_noisy: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        self.kernels = tuple(self.kernels)
        if self.rope_axes is not None:
            self.rope_axes = tuple(self.rope_axes)  # type: ignore[assignment]
        for name in ("latent_channels", "dim", "depth", "heads", "text_vocab", "text_max_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PackedDiTConfig.{name} must be a positive integer, got {value!r}")
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(
                f"PackedDiTConfig: dim ({self.dim}) / heads ({self.heads}) must be an even whole number (RoPE pairs)"
            )
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"PackedDiTConfig.prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.anchor_input and self.prediction != "anchored":
            raise ValueError(
                f"PackedDiTConfig.anchor_input needs prediction='anchored', got prediction={self.prediction!r}"
            )
        if self.anchor_warp and self.prediction != "anchored":
            raise ValueError(
                f"PackedDiTConfig.anchor_warp needs prediction='anchored', got prediction={self.prediction!r}"
            )
        if not isinstance(self.warp_patch, int) or self.warp_patch < 1:
            raise ValueError(f"PackedDiTConfig.warp_patch must be a positive integer, got {self.warp_patch!r}")
        if self.warp_resample not in RESAMPLING:
            raise ValueError(f"PackedDiTConfig.warp_resample must be one of {RESAMPLING}, got {self.warp_resample!r}")
        refiner_width = self.warp_refiner_width
        if not isinstance(refiner_width, int) or refiner_width < 0 or (refiner_width and (refiner_width % 8 or not self.anchor_warp)):
            raise ValueError(
                "PackedDiTConfig.warp_refiner_width needs anchor_warp: true and a multiple of 8 (the codec's "
                f"refiner_width), got {self.warp_refiner_width!r} with anchor_warp={self.anchor_warp}"
            )
        if self.warp_flow not in WARP_FLOWS:
            raise ValueError(f"PackedDiTConfig.warp_flow must be one of {WARP_FLOWS}, got {self.warp_flow!r}")
        if self.anchor_gate not in ("none", "t"):
            raise ValueError(f"PackedDiTConfig.anchor_gate must be 'none' or 't', got {self.anchor_gate!r}")
        if not 0 < self.x0_min_t <= 1:
            raise ValueError(f"PackedDiTConfig.x0_min_t must be in (0, 1], got {self.x0_min_t}")
        if self.text_layers < 0 or self.mlp_ratio <= 0:
            raise ValueError("PackedDiTConfig: text_layers must be >= 0 and mlp_ratio > 0")
        self.kernel_objects()  # parse errors surface here
        spec = self.rope_spec()
        if spec.head_dim != self.head_dim:
            raise ValueError(
                f"PackedDiTConfig.rope_axes {self.rope_axes} must sum to the head size {self.head_dim}"
            )

    @property
    def uses_motion_prior(self) -> bool:
        """Whether the model moves its anchors by a drawn section motion (`warp_flow="prior"`)."""
        return self.anchor_warp and self.warp_flow == "prior"

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def rope_spec(self) -> RopeSpec:
        if self.rope_axes is None:
            return RopeSpec.for_head_dim(self.head_dim, self.rope_theta)
        return RopeSpec(tuple(self.rope_axes), self.rope_theta)

    def kernel_objects(self) -> tuple[Kernel, ...]:
        """k1 first, then the configured kernels (distinct boxes, in the given order)."""
        kernels: dict[Kernel, None] = {K1: None}
        for text in self.kernels:
            kernels.setdefault(Kernel.parse(text), None)
        return tuple(kernels)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["kernels"] = list(self.kernels)
        data["rope_axes"] = None if self.rope_axes is None else list(self.rope_axes)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> PackedDiTConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PackedDiTConfig keys {unknown}; expected some of {sorted(known)}")
        return cls(**data)


def timestep_features(t: torch.Tensor, channels: int = 256) -> torch.Tensor:
    """Sinusoidal features of t ∈ [0, 1] (scaled to 0..1000 as diffusion models do); (..., channels)."""
    half = channels // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0).unsqueeze(-1) * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with RMS-normalised queries/keys and RoPE; can prepend cached K/V."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        rotations: torch.Tensor | None,
        mask: torch.Tensor | None,
        prefix: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        if rotations is not None:
            q, k = apply_rotation(q, rotations), apply_rotation(k, rotations)
        own = (k, v)
        if prefix is not None:
            k = torch.cat([prefix[0], k], dim=2)
            v = torch.cat([prefix[1], v], dim=2)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, dim)), own


class CrossAttention(nn.Module):
    """Tokens attend to a memory (prompt words, image tokens) under a key mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.q_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.out = nn.Linear(dim, dim)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the memory (B, heads, L, head_dim) each; constant within a section."""
        k, v = self.kv(memory).view(memory.shape[0], memory.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return self.k_norm(k), v

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor,
                memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q = self.q_norm(self.q(x).view(batch, tokens, self.heads, -1).transpose(1, 2))
        k, v = self.memory_kv(memory) if memory_kv is None else memory_kv
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=memory_mask[:, None, None, :])
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, dim))


class DiTBlock(nn.Module):
    """adaLN-Zero block: self-attention, cross-attention to the conditioning memory, MLP.

    Shift/scale/gate come per conditioning slot (one diffusion time each) and are gathered per token.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(dim, heads)
        self.norm_cross = nn.LayerNorm(dim, eps=1e-6)
        self.cross = CrossAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        nn.init.zeros_(self.cross.out.weight)
        nn.init.zeros_(self.cross.out.bias)

    def forward(
        self,
        x: torch.Tensor,
        slot_condition: torch.Tensor,
        slots: torch.Tensor,
        rotations: torch.Tensor,
        mask: torch.Tensor | None,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        prefix: tuple[torch.Tensor, torch.Tensor] | None = None,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        # (B, S, 6·dim) per slot; "1 + scale" is folded in before gathering to tokens (index_select:
        # the same values as [:, slots], an order of magnitude faster on the CPU)
        modulation = self.modulation(slot_condition)
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation.chunk(6, dim=-1)
        per_token = torch.cat([shift1, 1 + scale1, gate1, shift2, 1 + scale2, gate2], dim=-1).index_select(1, slots)
        shift1, scale1, gate1, shift2, scale2, gate2 = per_token.chunk(6, dim=-1)
        attended, own_kv = self.attn(torch.addcmul(shift1, self.norm1(x), scale1), rotations, mask, prefix)
        x = torch.addcmul(x, gate1, attended)
        x = x + self.cross(self.norm_cross(x), memory, memory_mask, memory_kv)
        x = torch.addcmul(x, gate2, self.mlp(torch.addcmul(shift2, self.norm2(x), scale2)))
        return x, own_kv


class TextConditioner(nn.Module):
    """Learned embeddings of hashed word ids, positions, and a few self-attention layers."""

    def __init__(self, vocab: int, max_tokens: int, dim: int, heads: int, layers: int) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.embedding = nn.Embedding(vocab, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.position = nn.Parameter(torch.randn(max_tokens, dim) * 0.02)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = nn.ModuleDict(
                {
                    "norm1": nn.LayerNorm(dim, eps=1e-6),
                    "attn": SelfAttention(dim, heads),
                    "norm2": nn.LayerNorm(dim, eps=1e-6),
                    "mlp": nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"), nn.Linear(2 * dim, dim)),
                }
            )
            self.layers.append(layer)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_tokens:
            raise ValueError(f"text_ids has {ids.shape[1]} tokens; this model takes at most {self.max_tokens}")
        if int(ids.max()) >= self.embedding.num_embeddings or int(ids.min()) < 0:
            raise ValueError(
                f"text_ids must be in [0, {self.embedding.num_embeddings}); use the model's text_encoder()"
            )
        x = self.embedding(ids) + self.position[: ids.shape[1]]
        key_mask = mask[:, None, None, :]
        for layer in self.layers:
            attended, _ = layer["attn"](layer["norm1"](x), None, key_mask)
            x = x + attended
            x = x + layer["mlp"](layer["norm2"](x))
        return self.norm(x)


class PackedDiT(nn.Module):
    """The packed video DiT. Build with a `PackedDiTConfig`; `forward` returns velocity.

    Example:
        model = PackedDiT(PackedDiTConfig(latent_channels=8))
        cond = model.text_encoder().condition(["a red circle drifts left"])
        v = model(noisy, torch.arange(19, 28), t, [PackedGroup(history, torch.arange(18, 19), K1)], cond)
    """

    def __init__(self, config: PackedDiTConfig) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self._build()

    def _build(self) -> None:
        config = self.config
        channels, dim = config.latent_channels, config.dim
        self.rope = config.rope_spec()
        self.noisy_embedding = PatchEmbedding(channels, dim, K1)
        if config.anchor_input:
            self.anchor_embedding = PatchEmbedding(channels, dim, K1)
        kernels = config.kernel_objects()
        self.context_embeddings = nn.ModuleDict({k.key: PatchEmbedding(channels, dim, k) for k in kernels})
        clean_k1 = self.context_embeddings[K1.key]
        with torch.no_grad():
            clean_k1.proj.weight.copy_(self.noisy_embedding.proj.weight)
            clean_k1.proj.bias.copy_(self.noisy_embedding.proj.bias)
        for kernel in kernels[1:]:
            self.context_embeddings[kernel.key].init_from_k1(clean_k1)
        self.time_embedding = nn.Sequential(nn.Linear(256, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.text = TextConditioner(config.text_vocab, config.text_max_tokens, dim, config.heads, config.text_layers)
        self.text_pool = nn.Linear(dim, dim)
        if config.image_conditioning:
            self.image_embedding = nn.Conv2d(channels, dim, kernel_size=2, stride=2)
            self.image_pool = nn.Linear(dim, dim)
        self.blocks = nn.ModuleList(DiTBlock(dim, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(dim, 2 * dim)
        self.final_proj = nn.Linear(dim, channels * K1.t * K1.h * K1.w)
        heads = [self.final_modulation, self.final_proj]
        if config.anchor_warp:
            self.pixel_view = PixelView(channels, config.warp_patch, config.warp_refiner_width, config.warp_refiner_blocks)
        if config.anchor_warp and FLOW_CHANNELS[config.warp_flow]:
            # zero at init: the anchor stays put
            self.flow_proj = nn.Linear(dim, FLOW_CHANNELS[config.warp_flow] * K1.t * K1.h * K1.w)
            heads.append(self.flow_proj)
        for layer in heads:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if config.uses_motion_prior:
            self.motion_prior = self.new_motion_prior()

    def new_motion_prior(self) -> MotionPrior:
        """A freshly initialised motion prior sized for this model (from the current torch seed)."""
        config = self.config
        return MotionPrior(config.latent_channels, config.dim, config.text_vocab, config.warp_patch)

    # -- helpers ----------------------------------------------------------------------------------

    def text_encoder(self) -> LabTextEncoder:
        """The word hasher this model's text embedding is sized for."""
        return LabTextEncoder(self.config.text_vocab, self.config.text_max_tokens)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def add_kernels(self, kernels: Sequence[Kernel | str]) -> list[Kernel]:
        """Give the model patch embeddings for more kernels (e.g. to fine-tune a base model into a
        schedule with `k8` or `k1h4w4`); new ones start from the clean k1 embedding as at init.

        Returns the kernels that were added (already known ones are skipped). `config.kernels` is
        updated, so `save` / `load` keep them.
        """
        added = []
        clean_k1 = self.context_embeddings[K1.key]
        for kernel in kernels:
            kernel = Kernel.parse(kernel) if isinstance(kernel, str) else kernel
            if kernel.key in self.context_embeddings:
                continue
            embedding = PatchEmbedding(self.config.latent_channels, self.config.dim, kernel).to(clean_k1.proj.weight)
            embedding.init_from_k1(clean_k1)
            self.context_embeddings[kernel.key] = embedding
            self.config.kernels = (*self.config.kernels, str(kernel))
            added.append(kernel)
        return added

    def _condition_memory(self, cond: LabConditioning) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-attention memory (B, L, dim), its mask (B, L) and the pooled vector (B, dim)."""
        text = self.text(cond.text_ids, cond.text_mask)
        weights = cond.text_mask.to(text.dtype).unsqueeze(-1)
        pooled = self.text_pool((text * weights).sum(1) / weights.sum(1))
        memory, mask = text, cond.text_mask
        if cond.image_latent is not None:
            if not self.config.image_conditioning:
                raise ValueError("this model was built with image_conditioning=False but got an image_latent")
            if cond.image_latent.shape[1] != self.config.latent_channels:
                raise ValueError(
                    f"image_latent has {cond.image_latent.shape[1]} channels, expected {self.config.latent_channels}"
                )
            image = pad_to_kernel(cond.image_latent.unsqueeze(2), K1).squeeze(2)
            image_tokens = self.image_embedding(image).flatten(2).transpose(1, 2)
            pooled = pooled + self.image_pool(image_tokens.mean(1))
            memory = torch.cat([memory, image_tokens], dim=1)
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], image_tokens.shape[1])], dim=1)
        return memory, mask, pooled

    def _embed_context(self, group: PackedGroup) -> TokenBlock:
        embedding = self.context_embeddings[group.kernel.key] if group.kernel.key in self.context_embeddings else None
        if embedding is None:
            raise ValueError(
                f"context kernel {group.kernel} has no patch embedding; this model has "
                f"{[str(k) for k in self.config.kernel_objects()]} (PackedDiTConfig.kernels)"
            )
        if group.tail_mode is not None:
            return embed_tail(group, embedding, self.rope)
        return embed_grid(group.latents, group.frame_indices, group.frame_timesteps(), embedding, self.rope)

    def _slot_condition(self, block: TokenBlock, pooled: torch.Tensor) -> torch.Tensor:
        """SiLU(time embedding + pooled conditioning) per slot: (B, S, dim)."""
        return F.silu(self.time_embedding(timestep_features(block.slot_timesteps)) + pooled[:, None])

    def _check_inputs(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        attention: str,
    ) -> torch.Tensor:
        if noisy.ndim != 5 or noisy.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"noisy must be (B, {self.config.latent_channels}, F, H, W), got {tuple(noisy.shape)}"
            )
        batch, _, frames = noisy.shape[:3]
        if noisy_indices.shape != (frames,):
            raise ValueError(f"noisy_indices must be ({frames},), got {tuple(noisy_indices.shape)}")
        if timesteps.ndim == 1 and timesteps.shape[0] == batch:
            timesteps = timesteps[:, None].expand(batch, frames)
        if timesteps.shape != (batch, frames):
            raise ValueError(f"timesteps must be (B, F) = ({batch}, {frames}), got {tuple(timesteps.shape)}")
        if timesteps.numel() and (float(timesteps.min()) < 0 or float(timesteps.max()) > 1):
            raise ValueError("timesteps must lie in [0, 1] (t = 1 is pure noise)")
        if cond.batch_size != batch:
            raise ValueError(f"cond has batch {cond.batch_size}, noisy has {batch}")
        for i, group in enumerate(context):
            if group.batch_size != batch or group.latents.shape[1] != self.config.latent_channels:
                raise ValueError(
                    f"context[{i}] latents {tuple(group.latents.shape)} do not match batch {batch} / "
                    f"{self.config.latent_channels} channels"
                )
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        return timesteps.to(noisy.dtype)

    # -- forward ----------------------------------------------------------------------------------

    def forward(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        attention: str = "full",
        kv_cache: KVCache | None = None,
        block_frames: int | None = None,
        return_anchors: bool = False,
        anchor_flow: torch.Tensor | None = None,
        motion: SectionMotion | None = None,
        section_cache: SectionCache | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Anchors]:
        """Predict the flow-matching velocity of the noisy section.

        Args:
            noisy: (B, C, F, H, W) noisy latents x_t of the section.
            noisy_indices: (F,) true frame indices of the section (RoPE positions).
            timesteps: (B, F) diffusion time per frame in [0, 1] (a (B,) tensor is broadcast).
            context: packed context groups in any order; they are arranged coarsest first.
            cond: prompt ids (from `text_encoder()`) and an optional image latent.
            attention: "full", "causal" (per frame) or "block_causal".
            kv_cache: a `KVCache` to reuse the context's keys/values across calls; needs context that
                does not attend to noisy tokens (causal / block-causal with context before the
                section, or `context_sees_noisy=False`).
            block_frames: frames per block for "block_causal", counted from the first noisy frame;
                default: the section's F.
            return_anchors: ("anchored" only) also return the `Anchors` (each frame's anchor as
                taken from the context, and as moved by the predicted flow), for a training loss
                on the flow itself.
            anchor_flow: (`anchor_warp` only) (B, 2, F, h, w) a flow in pixels to move the anchors by
                instead of the predicted one (training with the true motion); the predicted flow is
                still the one returned in the `Anchors`.
            motion: (`warp_flow="prior"` only) the section's motion (`draw_motion`, or the true one in
                training); None: the prior's most likely velocity and its own membership.
            section_cache: a `framepack.section_cache.SectionCache` shared by the calls of one section
                (the sampler's steps): what depends only on the context, conditioning, positions and
                motion (anchors and their warp, conditioning memory, context embeddings, RoPE) is
                computed at the first call and reused, bit for bit.

        Returns:
            (B, C, F, H, W) velocity v = noise − x0 (and the `Anchors` with `return_anchors`).
        """
        if anchor_flow is not None and not self.config.anchor_warp:
            raise ValueError("anchor_flow needs a model with anchor_warp: true")
        uses_prior = self.config.uses_motion_prior
        if motion is not None and not uses_prior:
            raise ValueError("motion needs a model with anchor_warp: true and warp_flow: prior")
        if return_anchors and self.config.prediction != "anchored":
            raise ValueError(f"return_anchors needs prediction='anchored', got {self.config.prediction!r}")
        anchor = flow = None
        network_input = noisy
        prior_logits = (None, None)
        if self.config.prediction == "anchored":
            noisy_indices = torch.as_tensor(noisy_indices)
            self._check_inputs(noisy, noisy_indices, timesteps, context, cond, attention)
            reusable = section_cache if anchor_flow is None and not return_anchors else None
            context_anchor, anchor_index, anchor, flow, prior_logits = cached(
                reusable, ("anchors", tuple(noisy.shape), noisy.dtype), (noisy_indices, *context, cond, motion),
                lambda: self._section_anchors(noisy, noisy_indices, context, cond, motion, anchor_flow, return_anchors),
            )
            # the noisy residual r_t around the (moved) anchor: with a motion prior the motion is known
            # before the network runs
            network_input = noisy - (1 - _per_frame(timesteps, noisy)) * anchor
        native = self.predict_native(
            network_input, noisy_indices, timesteps, context, cond, attention=attention, kv_cache=kv_cache,
            block_frames=block_frames, section_cache=section_cache,
        )
        if self.config.anchor_warp and not uses_prior:
            native, raw_flow = native[:, : noisy.shape[1]], native[:, noisy.shape[1]:]
            distance = torch.as_tensor(noisy_indices).to(raw_flow)[None, :] - anchor_index.to(raw_flow)  # (B, F)
            flow = self._anchor_flow(raw_flow, distance)
            moving = flow if anchor_flow is None else anchor_flow.to(flow)
            anchor = self.pixel_view.warp(anchor, moving, self.config.warp_resample)
            network_input = noisy - (1 - _per_frame(timesteps, noisy)) * anchor  # r̃_t around the moved anchor
        if self.config.prediction == "velocity":
            return native
        t = _per_frame(timesteps, noisy)
        if self.config.prediction == "x0":
            return (noisy - native) / t.clamp_min(self.config.x0_min_t)
        # preconditioned: x0_hat = c_skip·x_t + c_out·F; anchored: x0_hat = a + c_skip·r_t + c_out·F with
        # r_t = x_t − (1 − t)·a. v = (x_t − x0_hat) / t, simplified so that t = 0 is exact
        # (1 − c_skip = t(2t − 1)/n², c_out / t = 1/n).
        norm_sq = (1 - t) ** 2 + t**2
        velocity = network_input * (2 * t - 1) / norm_sq - native / norm_sq.sqrt()
        if anchor is None:
            return velocity
        if return_anchors:
            return velocity - anchor, Anchors(context_anchor, anchor, flow, *prior_logits)
        return velocity - anchor

    def _section_anchors(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        motion: SectionMotion | None,
        anchor_flow: torch.Tensor | None,
        return_anchors: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, tuple]:
        """(each frame's anchor as taken from the context, its frame index, the anchor moved by the
        section's motion — the same tensor without a motion prior —, that flow, the prior's logits).
        Independent of the noisy values and the time: constant within a section."""
        anchor, anchor_index = nearest_context(noisy.shape, noisy_indices, context, cond.image_latent)
        anchor = anchor.to(noisy)
        context_anchor, flow, prior_logits = anchor, None, (None, None)
        if self.config.uses_motion_prior:
            distance = noisy_indices.to(anchor)[None, :] - anchor_index.to(anchor)
            if motion is None or return_anchors:  # the logits are for the most likely motion, or for the losses
                prior_logits = self.motion_prior_logits(anchor, anchor_index, distance, cond)
            velocity = motion.velocity if motion is not None else self.motion_prior.most_likely(prior_logits[0])
            membership = None if motion is None else motion.membership
            if membership is None:
                logits = prior_logits[1] if prior_logits[1] is not None else self.motion_prior.membership_logits(anchor)
                membership = torch.sigmoid(logits)
            flow = rigid_flow(velocity.to(anchor), membership.to(anchor), distance) if anchor_flow is None else anchor_flow
            anchor = self.pixel_view.warp(anchor, flow.to(anchor), self.config.warp_resample)
        return context_anchor, anchor_index, anchor, flow, prior_logits

    def motion_prior_logits(self, anchor: torch.Tensor, anchor_index: torch.Tensor, distance: torch.Tensor,
                      cond: LabConditioning) -> tuple[torch.Tensor, torch.Tensor]:
        """The motion prior's velocity logits (B, K) and membership logits (B, F, h', w') for the
        section's anchors (B, C, F, h, w), taken from frames `anchor_index` (B, F) at distances (B, F)
        in frames from their frames."""
        _, _, pooled = self._condition_memory(cond)
        timing = torch.stack([distance[:, 0], distance[:, -1], anchor_index[:, 0], anchor_index[:, -1]], dim=1)
        velocity = self.motion_prior.velocity_logits(anchor[:, :, 0], anchor[:, :, -1], timing.to(anchor), pooled,
                                                     cond.text_ids, cond.text_mask)
        return velocity, self.motion_prior.membership_logits(anchor)

    @torch.no_grad()
    def draw_motion(
        self,
        noisy_shape: torch.Size | tuple[int, ...],
        noisy_indices: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        generator: torch.Generator | None = None,
    ) -> SectionMotion | None:
        """One draw of the section's subject velocity from the motion prior, for every denoising step
        of the section (None for a model without `warp_flow="prior"`: it has nothing to draw)."""
        if not self.config.uses_motion_prior:
            return None
        indices = torch.as_tensor(noisy_indices)
        anchor, anchor_index = nearest_context(noisy_shape, indices, context, cond.image_latent)
        device = self.pixel_view.components.device
        distance = indices.to(device, torch.float32)[None, :] - anchor_index.to(device)
        velocity_logits, _ = self.motion_prior_logits(anchor.to(device), anchor_index.to(device), distance, cond)
        return SectionMotion(self.motion_prior.draw(velocity_logits, generator))

    def _anchor_flow(self, raw: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        """The flow head's raw channels (B, FLOW_CHANNELS, F, h, w) → the anchor's flow (B, 2, F, h, w)
        in pixels; `distance` (B, F) is each frame's distance in frames from its anchor."""
        mode = self.config.warp_flow
        if mode == "per_frame":
            return raw * FLOW_SCALE_PX

        def running_displacement(velocity: torch.Tensor) -> torch.Tensor:
            """Causal running mean of per-frame velocities, times each frame's distance (pixels)."""
            counts = torch.arange(1, velocity.shape[2] + 1, dtype=velocity.dtype).view(1, 1, -1, 1, 1)
            return velocity.cumsum(dim=2) / counts * distance[:, None, :, None, None] * VELOCITY_SCALE_PX

        if mode == "velocity":
            return running_displacement(raw)
        membership = torch.sigmoid(raw[:, :1])
        moves = running_displacement(raw[:, 1:].mean(dim=(3, 4), keepdim=True))  # (B, 4, F, 1, 1)
        return membership * moves[:, :2] + (1 - membership) * moves[:, 2:]

    def _embed_noisy(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning | None,
    ) -> TokenBlock:
        block = embed_grid(noisy, noisy_indices, timesteps, self.noisy_embedding, self.rope)
        if not self.config.anchor_input:
            return block
        image = None if cond is None else cond.image_latent
        anchor = nearest_context_frames(noisy.shape, noisy_indices, context, image).to(noisy)
        anchor_tokens = self.anchor_embedding(anchor)
        if self.config.anchor_gate == "t":
            # the anchor speaks where the residual carries no information (pure noise at t = 1) and
            # fades at low noise, where r_t already holds the frame and its fine detail
            per_frame = anchor_tokens.shape[1] // noisy.shape[2]
            anchor_tokens = anchor_tokens * timesteps.repeat_interleave(per_frame, dim=1).unsqueeze(-1).to(anchor_tokens)
        return replace(block, tokens=block.tokens + anchor_tokens)

    def pack(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning | None = None,
        section_cache: SectionCache | None = None,
    ) -> tuple[TokenBlock, int]:
        """The packed token sequence [coarsest context … k1 context | noisy] and its context length.

        `cond` supplies the start frame, the last resort anchor of an `anchor_input` model."""
        noisy_indices = torch.as_tensor(noisy_indices, dtype=torch.long, device=noisy.device)
        noisy_block = self._embed_noisy(noisy, noisy_indices, timesteps, context, cond)
        sequence = concat_blocks([*self._context_blocks(context_order(context), section_cache), noisy_block])
        return sequence, sequence.num_tokens - noisy_block.num_tokens

    def _context_blocks(self, ordered: Sequence[PackedGroup], section_cache: SectionCache | None) -> list[TokenBlock]:
        """The context groups' token blocks, each embedded once per section when a cache is given."""
        return [cached(section_cache, ("context", i), (group,), lambda group=group: self._embed_context(group))
                for i, group in enumerate(ordered)]

    def predict_native(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        attention: str = "full",
        kv_cache: KVCache | None = None,
        block_frames: int | None = None,
        section_cache: SectionCache | None = None,
    ) -> torch.Tensor:
        """The network's output in its own target (`config.prediction`: velocity or x0); same
        arguments as `forward`. Training with an x0 loss uses this; samplers use `forward`.
        With `anchor_warp`, the flow head's channels follow the C latent channels: the flow (x, y), in
        units of `FLOW_SCALE_PX` pixels ("per_frame") or of `VELOCITY_SCALE_PX` pixels per frame
        ("velocity"); for "rigid", a membership logit then subject and background velocities (x, y)
        in `VELOCITY_SCALE_PX` pixels per frame, averaged over the frame (`FLOW_CHANNELS`)."""
        noisy_indices = torch.as_tensor(noisy_indices, dtype=torch.long, device=noisy.device)
        timesteps = self._check_inputs(noisy, noisy_indices, timesteps, context, cond, attention)
        _, channels, frames, height, width = noisy.shape
        block_frames = frames if block_frames is None else int(block_frames)
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        origin = float(noisy_indices.min())
        memory, memory_mask, pooled = cached(section_cache, "memory", (cond,), lambda: self._condition_memory(cond))
        memory_kvs = cached(section_cache, "memory_kv", (cond,),
                            lambda: [block.cross.memory_kv(memory) for block in self.blocks])

        if kv_cache is None:
            sequence, num_context = self.pack(noisy, noisy_indices, timesteps, context, cond, section_cache)
            mask = attention_mask(sequence.times, sequence.times, attention, block_origin=origin, block_frames=block_frames)
            if not self.config.context_sees_noisy and num_context:
                if mask is None:
                    mask = torch.ones(sequence.num_tokens, sequence.num_tokens, dtype=torch.bool, device=noisy.device)
                mask[:num_context, num_context:] = False
            x = sequence.tokens
            condition = self._slot_condition(sequence, pooled)
            rotations = cached(section_cache, ("rotations", tuple(noisy.shape[2:])), (noisy_indices, *context),
                               lambda: rotation(sequence.angles))
            for block, memory_kv in zip(self.blocks, memory_kvs, strict=True):
                x, _ = block(x, condition, sequence.slots, rotations, mask, memory, memory_mask, memory_kv=memory_kv)
            x = x[:, num_context:]
            noisy_condition = condition[:, sequence.slots[num_context:]]
        else:
            noisy_block = self._embed_noisy(noisy, noisy_indices, timesteps, context, cond)
            x, noisy_condition = self._forward_cached(
                noisy_block, context_order(context), cond, attention, origin, block_frames,
                memory, memory_mask, pooled, kv_cache, section_cache, memory_kvs,
            )

        shift, scale = self.final_modulation(noisy_condition).chunk(2, dim=-1)
        hidden = self.final_norm(x) * (1 + scale) + shift
        out = unpatchify_k1(self.final_proj(hidden), frames, (height, width), channels)
        if not self.config.anchor_warp or not FLOW_CHANNELS[self.config.warp_flow]:
            return out
        flow = unpatchify_k1(self.flow_proj(hidden), frames, (height, width), FLOW_CHANNELS[self.config.warp_flow])
        return torch.cat([out, flow], dim=1)

    def _forward_cached(
        self,
        noisy_block: TokenBlock,
        ordered: Sequence[PackedGroup],
        cond: LabConditioning,
        attention: str,
        origin: float,
        block_frames: int,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        pooled: torch.Tensor,
        kv_cache: KVCache,
        section_cache: SectionCache | None,
        memory_kvs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context through the blocks once (or from the cache), then the noisy tokens against it."""
        context_blocks = self._context_blocks(ordered, section_cache)
        context = concat_blocks(context_blocks) if context_blocks else None
        if context is not None:
            sees_noisy = attention_mask(
                context.times, noisy_block.times, attention, block_origin=origin, block_frames=block_frames
            )
            if self.config.context_sees_noisy and (sees_noisy is None or bool(sees_noisy.any())):
                raise ValueError(
                    f"kv_cache needs context that does not attend to noisy tokens, but with attention={attention!r} "
                    "some context tokens do (context after the section, or full attention). Use causal / "
                    "block_causal with context before the section, or a model with context_sees_noisy=False."
                )
            context_mask = attention_mask(
                context.times, context.times, attention, block_origin=origin, block_frames=block_frames
            )
            key = (
                id(self),
                [(g.kernel.size, g.tail_mode, g.frame_indices, g.latents, g.frame_timesteps()) for g in ordered],
                (cond.text_ids, cond.text_mask, cond.image_latent),
                context_mask,
            )
            if kv_cache.matches(key):
                kv_cache.hits += 1
            else:
                kv_cache.misses += 1
                x = context.tokens
                condition = self._slot_condition(context, pooled)
                layers = []
                rotations = rotation(context.angles)
                for block, memory_kv in zip(self.blocks, memory_kvs, strict=True):
                    x, own_kv = block(x, condition, context.slots, rotations, context_mask, memory, memory_mask,
                                      memory_kv=memory_kv)
                    layers.append(own_kv)
                kv_cache.store(key, layers, context.times)
        else:
            kv_cache.clear()

        condition = self._slot_condition(noisy_block, pooled)
        mask = None
        if context is not None:
            key_times = torch.cat([kv_cache.context_times, noisy_block.times])
            mask = attention_mask(noisy_block.times, key_times, attention, block_origin=origin, block_frames=block_frames)
        x = noisy_block.tokens
        rotations = rotation(noisy_block.angles)
        for index, (block, memory_kv) in enumerate(zip(self.blocks, memory_kvs, strict=True)):
            prefix = kv_cache.layers[index] if context is not None else None
            x, _ = block(x, condition, noisy_block.slots, rotations, mask, memory, memory_mask, prefix, memory_kv)
        return x, condition[:, noisy_block.slots]

    # -- persistence ------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        """Write weights and config to one safetensors file (config JSON in its metadata), atomically.

        Args:
            path: target file, conventionally `*.safetensors`; parent folders are created.
            dtype: store floating tensors in this dtype (e.g. torch.float16 halves the file); loading
                casts back to float32.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for name, tensor in self.state_dict().items():
            tensor = tensor.detach().to("cpu")
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            tensors[name] = tensor.contiguous()
        metadata = {"format": CHECKPOINT_FORMAT, "config": json.dumps(self.config.to_dict(), sort_keys=True)}
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            save_file(tensors, str(temporary), metadata=metadata)
            os.replace(temporary, path)
        finally:
            if temporary.exists():
                temporary.unlink()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> PackedDiT:
        """Rebuild a model saved with `save` (weights cast to float32)."""
        model = cls.load_config(path)
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
        model.load_state_dict(state, strict=True)
        return model.to(device)

    @classmethod
    def load_config(cls, path: str | os.PathLike) -> PackedDiT:
        """A freshly initialised model with the config stored in the checkpoint at `path`."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointNotFoundError(f"no PackedDiT checkpoint at {path} (train one or pass the right path)")
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("format") != CHECKPOINT_FORMAT or "config" not in metadata:
            raise ValueError(
                f"{path} is not a PackedDiT checkpoint (metadata format {metadata.get('format')!r}, "
                f"expected {CHECKPOINT_FORMAT!r})"
            )
        return cls(PackedDiTConfig.from_dict(json.loads(metadata["config"])))
