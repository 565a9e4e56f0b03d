"""The transformer pieces of the lab DiT: timestep features, self- and cross-attention, the
adaLN-Zero block and the prompt encoder. `framepack.lab.model.PackedDiT` stacks them."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from framepack.rope import apply_rotation


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


