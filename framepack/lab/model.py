"""PackedDiT: the lab-scale packed video diffusion transformer.

A small DiT over packed frame context (see `framepack.packing`): one patch embedding per kernel,
3D RoPE with pooled phases, adaLN-Zero conditioning with one diffusion time per frame (every token
takes its frame's time; context may carry its own times, default 0 = clean), text and the start
frame by cross-attention, full / causal / block-causal attention masks and a KV cache for clean
context (`backbone`).

Around the backbone sits the anchored prediction (`forward`): each noisy frame is predicted as its
nearest real context frame a (`framepack.lab.context_anchor`) plus a correction, with EDM's
preconditioning for the flow path (`preconditioning`): the network sees the noisy residual
r_t = x_t − (1 − t)·a and x0_hat = a + c_skip·r_t + c_out·F, so an untrained network already copies
the last frame and F only learns what changes. A model with a motion prior (`motion_prior: true`)
first moves the anchor's subject by a velocity drawn once per section (`draw_motion`,
`framepack.lab.motion_prior`), warped in pixels (`framepack.lab.anchor_warp`).

Why cross-attention for text (not joint tokens): text tokens that joined the self-attention would
attend to every frame, and a later frame's information could flow through them back into earlier
frames — breaking the causal and block-causal masks and the KV cache. As a separate memory, text
carries nothing between frames. A pooled text (and image) vector is also added to the adaLN
conditioning, which helps a small model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from framepack.attention import ATTENTION_MODES, KVCache, attention_mask
from framepack.kernels import K1, Kernel
from framepack.lab.anchor_warp import PixelView
from framepack.lab.blocks import DiTBlock, TextConditioner, timestep_features
from framepack.lab.context_anchor import nearest_context
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
from framepack.rope import RopeSpec, rotation
from framepack.section_cache import SectionCache, cached

__all__ = ["PackedDiT", "PackedDiTConfig", "LabConditioning", "KVCache", "CheckpointNotFoundError", "preconditioning"]

CHECKPOINT_FORMAT = "framepack-bench/PackedDiT/2"
# Format 1 stored the switches of designs that were measured and dropped (docs/lab-models.md,
# "Dropped designs"); its files load when every such switch holds the one value that shipped.
FORMAT_1 = "framepack-bench/PackedDiT/1"
FORMAT_1_FIXED = {"prediction": "anchored", "anchor_input": False, "anchor_gate": "none",
                  "context_sees_noisy": True, "image_conditioning": True}
FORMAT_1_WARP_FIXED = {"warp_flow": "prior", "warp_resample": "bicubic", "warp_refiner_width": 0}
FORMAT_1_UNREAD = ("x0_min_t", "warp_refiner_blocks")  # only read by dropped designs


class Anchors(NamedTuple):
    """Each noisy frame's anchor (B, C, F, h, w): `context` as taken from the nearest context
    frame, `moved` after the section's motion (the same tensor without a motion prior), and that
    motion's flow (B, 2, F, h', w') in pixels; with a motion prior, also its velocity logits (B, K)
    and membership logits (B, F, h', w') for its losses."""

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
        motion_prior: move each anchor's subject by a section motion before the network sees the
            residual: a `framepack.lab.motion_prior.MotionPrior` gives a distribution over the
            subject's velocity (the sampler draws one per section, `draw_motion`) and the subject's
            membership in each anchor at 2-px cells; the move is a bicubic warp in pixels through
            the linear codec's basis (`PixelView.copy_from_codec`, done by the training recipes).
        warp_patch: pixels per latent pixel of that codec (its downsample).
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
    motion_prior: bool = False
    warp_patch: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        self.kernels = tuple(self.kernels)
        if self.rope_axes is not None:
            self.rope_axes = tuple(self.rope_axes)  # type: ignore[assignment]
        for name in ("latent_channels", "dim", "depth", "heads", "text_vocab", "text_max_tokens", "warp_patch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PackedDiTConfig.{name} must be a positive integer, got {value!r}")
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(
                f"PackedDiTConfig: dim ({self.dim}) / heads ({self.heads}) must be an even whole number (RoPE pairs)"
            )
        if not isinstance(self.motion_prior, bool):
            raise ValueError(f"PackedDiTConfig.motion_prior must be true or false, got {self.motion_prior!r}")
        if self.text_layers < 0 or self.mlp_ratio <= 0:
            raise ValueError("PackedDiTConfig: text_layers must be >= 0 and mlp_ratio > 0")
        self.kernel_objects()  # parse errors surface here
        spec = self.rope_spec()
        if spec.head_dim != self.head_dim:
            raise ValueError(
                f"PackedDiTConfig.rope_axes {self.rope_axes} must sum to the head size {self.head_dim}"
            )

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

    @classmethod
    def from_format_1(cls, data: dict, source: str = "config") -> PackedDiTConfig:
        """The config of a format-1 checkpoint, whose switches of dropped designs must hold the
        values that shipped (`anchor_warp` became `motion_prior`)."""
        data = dict(data)
        warp = bool(data.pop("anchor_warp", False))
        fixed = {**FORMAT_1_FIXED, **(FORMAT_1_WARP_FIXED if warp else {})}
        for name, expected in fixed.items():
            value = data.pop(name, expected)
            if value != expected:
                raise ValueError(
                    f"{source} sets {name}={value!r}, a design this version no longer builds (it builds {name}="
                    f"{expected!r}); see docs/lab-models.md 'Dropped designs', or load it with commit 2af2e83"
                )
        for name in (*FORMAT_1_UNREAD, *(() if warp else FORMAT_1_WARP_FIXED)):
            data.pop(name, None)
        return cls.from_dict({**data, "motion_prior": warp})


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
        self.image_embedding = nn.Conv2d(channels, dim, kernel_size=2, stride=2)
        self.image_pool = nn.Linear(dim, dim)
        self.blocks = nn.ModuleList(DiTBlock(dim, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(dim, 2 * dim)
        self.final_proj = nn.Linear(dim, channels * K1.t * K1.h * K1.w)
        for layer in (self.final_modulation, self.final_proj):  # zero at init: F = 0, the anchor is copied
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if config.motion_prior:
            self.pixel_view = PixelView(channels, config.warp_patch)
            self.motion_prior = self.new_motion_prior()

    def new_motion_prior(self) -> MotionPrior:
        """A freshly initialised motion prior sized for this model (from the current torch seed)."""
        config = self.config
        return MotionPrior(config.latent_channels, config.dim, config.text_vocab, config.warp_patch)

    # -- utilities ----------------------------------------------------------------------------------

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

    # -- anchored prediction ----------------------------------------------------------------------

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
        motion: SectionMotion | None = None,
        return_anchors: bool = False,
        section_cache: SectionCache | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Anchors]:
        """Predict the flow-matching velocity of the noisy section, anchored on the context.

        Args:
            noisy: (B, C, F, H, W) noisy latents x_t of the section.
            noisy_indices: (F,) true frame indices of the section (RoPE positions).
            timesteps: (B, F) diffusion time per frame in [0, 1] (a (B,) tensor is broadcast).
            context: packed context groups in any order; they are arranged coarsest first.
            cond: prompt ids (from `text_encoder()`) and an optional image latent.
            attention, kv_cache, block_frames: see `backbone`.
            motion: (`motion_prior` models only) the section's motion (`draw_motion`, or the true one
                in training); None: the prior's most likely velocity and its own membership.
            return_anchors: also return the `Anchors` (for the motion prior's training losses).
            section_cache: a `framepack.section_cache.SectionCache` shared by the calls of one section
                (the sampler's steps): what depends only on the context, conditioning, positions and
                motion (the anchors and their warp, the conditioning memory and its cross-attention
                keys/values, the context's embeddings, RoPE) is computed at the first call and reused,
                bit for bit.

        Returns:
            (B, C, F, H, W) velocity v = noise − x0 (and the `Anchors` with `return_anchors`).
        """
        if motion is not None and not self.config.motion_prior:
            raise ValueError("motion needs a model with motion_prior: true")
        indices = torch.as_tensor(noisy_indices)
        self._check_inputs(noisy, indices, timesteps, context, cond, attention)
        anchors = cached(None if return_anchors else section_cache, ("anchors", tuple(noisy.shape), noisy.dtype),
                         (indices, *context, cond, motion),
                         lambda: self.anchors(noisy, indices, context, cond, motion, with_logits=return_anchors))
        t = _per_frame(timesteps, noisy)
        residual = noisy - (1 - t) * anchors.moved  # the noisy residual r_t around the (moved) anchor
        native = self.backbone(residual, indices, timesteps, context, cond, attention, kv_cache, block_frames,
                               section_cache)
        # x0_hat = a + c_skip·r_t + c_out·F, v = (x_t − x0_hat) / t, simplified so that t = 0 is exact
        # (1 − c_skip = t(2t − 1)/n², c_out / t = 1/n)
        norm_sq = (1 - t) ** 2 + t**2
        velocity = residual * (2 * t - 1) / norm_sq - native / norm_sq.sqrt() - anchors.moved
        return (velocity, anchors) if return_anchors else velocity

    def anchors(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        context: Sequence[PackedGroup],
        cond: LabConditioning,
        motion: SectionMotion | None = None,
        with_logits: bool = False,
    ) -> Anchors:
        """Each noisy frame's nearest real context frame and, with a motion prior, that frame with
        its subject moved by `motion` (None: the prior's most likely motion); `with_logits` also
        returns the prior's logits."""
        anchor, anchor_index = nearest_context(noisy.shape, noisy_indices, context, cond.image_latent)
        anchor = anchor.to(noisy)
        if not self.config.motion_prior:
            return Anchors(anchor, anchor)
        distance = noisy_indices.to(anchor)[None, :] - anchor_index.to(anchor)
        logits = (None, None)
        if motion is None or with_logits:
            logits = self.motion_prior_logits(anchor, anchor_index, distance, cond)
        velocity = motion.velocity if motion is not None else self.motion_prior.most_likely(logits[0])
        membership = None if motion is None else motion.membership
        if membership is None:
            membership = torch.sigmoid(logits[1] if logits[1] is not None else self.motion_prior.membership_logits(anchor))
        flow = rigid_flow(velocity.to(anchor), membership.to(anchor), distance)
        return Anchors(anchor, self.pixel_view.warp(anchor, flow.to(anchor)), flow, *logits)

    # -- motion prior -----------------------------------------------------------------------------

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
        """The `framepack.framepack_generator.SectionMotionModel` hook: one draw of the section's
        subject velocity from the motion prior, for every denoising step of the section (None for a
        model without `motion_prior`: it has nothing to draw)."""
        if not self.config.motion_prior:
            return None
        indices = torch.as_tensor(noisy_indices)
        anchor, anchor_index = nearest_context(noisy_shape, indices, context, cond.image_latent)
        device = self.pixel_view.components.device
        distance = indices.to(device, torch.float32)[None, :] - anchor_index.to(device)
        velocity_logits, _ = self.motion_prior_logits(anchor.to(device), anchor_index.to(device), distance, cond)
        return SectionMotion(self.motion_prior.draw(velocity_logits, generator))

    # -- the backbone -----------------------------------------------------------------------------

    def pack(
        self,
        noisy: torch.Tensor,
        noisy_indices: torch.Tensor,
        timesteps: torch.Tensor,
        context: Sequence[PackedGroup],
        section_cache: SectionCache | None = None,
    ) -> tuple[TokenBlock, int]:
        """The packed token sequence [coarsest context … k1 context | noisy] and its context length."""
        noisy_indices = torch.as_tensor(noisy_indices, dtype=torch.long, device=noisy.device)
        noisy_block = embed_grid(noisy, noisy_indices, timesteps, self.noisy_embedding, self.rope)
        sequence = concat_blocks([*self._context_blocks(context_order(context), section_cache), noisy_block])
        return sequence, sequence.num_tokens - noisy_block.num_tokens

    def _context_blocks(self, ordered: Sequence[PackedGroup], section_cache: SectionCache | None) -> list[TokenBlock]:
        """The context groups' token blocks, each embedded once per section when a cache is given."""
        return [cached(section_cache, ("context", i), (group,), lambda group=group: self._embed_context(group))
                for i, group in enumerate(ordered)]

    def backbone(
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
        """The DiT's own output F (B, C, F, H, W) for a noisy input (`forward` gives it the residual).

        Args:
            attention: "full", "causal" (per frame) or "block_causal".
            kv_cache: a `KVCache` to reuse the context's keys/values across calls; needs context that
                does not attend to noisy tokens (causal / block-causal with context before the section).
            block_frames: frames per block for "block_causal", counted from the first noisy frame;
                default: the section's F.
            section_cache: see `forward`.
        """
        noisy_indices = torch.as_tensor(noisy_indices, dtype=torch.long, device=noisy.device)
        timesteps = self._check_inputs(noisy, noisy_indices, timesteps, context, cond, attention)
        _, channels, frames, height, width = noisy.shape
        block_frames = frames if block_frames is None else int(block_frames)
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        masking = {"mode": attention, "block_origin": float(noisy_indices.min()), "block_frames": block_frames}
        memory, memory_mask, pooled = cached(section_cache, "memory", (cond,), lambda: self._condition_memory(cond))
        memory_kvs = cached(section_cache, "memory_kv", (cond,),
                            lambda: [block.cross.memory_kv(memory) for block in self.blocks])
        if kv_cache is None:
            sequence, num_context = self.pack(noisy, noisy_indices, timesteps, context, section_cache)
            mask = attention_mask(sequence.times, sequence.times, **masking)
            x, condition = sequence.tokens, self._slot_condition(sequence, pooled)
            rotations = cached(section_cache, ("rotations", tuple(noisy.shape[2:])), (noisy_indices, *context),
                               lambda: rotation(sequence.angles))
            for block, memory_kv in zip(self.blocks, memory_kvs, strict=True):
                x, _ = block(x, condition, sequence.slots, rotations, mask, memory, memory_mask, memory_kv=memory_kv)
            x, noisy_condition = x[:, num_context:], condition[:, sequence.slots[num_context:]]
        else:
            noisy_block = embed_grid(noisy, noisy_indices, timesteps, self.noisy_embedding, self.rope)
            x, noisy_condition = self._forward_cached(noisy_block, context_order(context), cond, masking,
                                                      memory, memory_mask, pooled, kv_cache, section_cache, memory_kvs)
        shift, scale = self.final_modulation(noisy_condition).chunk(2, dim=-1)
        hidden = self.final_norm(x) * (1 + scale) + shift
        return unpatchify_k1(self.final_proj(hidden), frames, (height, width), channels)

    def _forward_cached(
        self,
        noisy_block: TokenBlock,
        ordered: Sequence[PackedGroup],
        cond: LabConditioning,
        masking: dict,
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
            sees_noisy = attention_mask(context.times, noisy_block.times, **masking)
            if sees_noisy is None or bool(sees_noisy.any()):
                raise ValueError(
                    f"kv_cache needs context that does not attend to noisy tokens, but with attention="
                    f"{masking['mode']!r} some context tokens do (context after the section, or full "
                    "attention). Use causal / block_causal with context before the section."
                )
            context_mask = attention_mask(context.times, context.times, **masking)
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
            mask = attention_mask(noisy_block.times, key_times, **masking)
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
        return cls(stored_config(path))


def stored_config(path: str | os.PathLike) -> PackedDiTConfig:
    """The `PackedDiTConfig` stored in a PackedDiT checkpoint (format 2, or format 1 converted)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"no PackedDiT checkpoint at {path} (train one or pass the right path)")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    fmt = metadata.get("format")
    if fmt not in (CHECKPOINT_FORMAT, FORMAT_1) or "config" not in metadata:
        raise ValueError(f"{path} is not a PackedDiT checkpoint (metadata format {fmt!r}, expected {CHECKPOINT_FORMAT!r})")
    stored = json.loads(metadata["config"])
    if fmt == FORMAT_1:
        return PackedDiTConfig.from_format_1(stored, str(path))
    return PackedDiTConfig.from_dict(stored)
