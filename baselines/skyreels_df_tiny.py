"""A tiny random-weight SkyReels-V2 diffusion-forcing component set, built offline.

Real weights cannot be downloaded here, so the full-scale diffusion-forcing baseline is exercised
on the real classes with tiny configs: `SkyReelsV2Transformer3DModel`, the Wan VAE
(`AutoencoderKLWan`), a UMT5 text encoder and the UniPC flow scheduler. `save_tiny_skyreels_folder`
writes them in diffusers' folder layout (tokenizer absent), so loading goes through the same
`from_pretrained` calls as the released weights. Callers pass text embeddings
(`tiny_skyreels_prompt_encoder`).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import torch

from framepack.hunyuan.tiny import save_pipeline_folder

TINY_TEXT_DIM = 16  # UMT5 d_model == transformer text_dim
TINY_PROMPT_TOKENS = 6
TINY_LATENT_CHANNELS = 16  # the Wan VAE's z_dim (fixed by its latents_mean / latents_std lists)


def build_tiny_skyreels_components(seed: int = 0) -> dict:
    """Components of `SkyReelsV2DiffusionForcing(ImageToVideo)Pipeline` with random weights drawn under
    `seed` (CPU, float32); the tokenizer is None."""
    from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=TINY_LATENT_CHANNELS, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    torch.manual_seed(seed + 1)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=1000, d_model=TINY_TEXT_DIM, d_kv=4, d_ff=32, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8,
    ))
    torch.manual_seed(seed + 2)
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=TINY_LATENT_CHANNELS,
        out_channels=TINY_LATENT_CHANNELS, text_dim=TINY_TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
    for module in (vae, text_encoder, transformer):
        module.eval()
    return {"tokenizer": None, "text_encoder": text_encoder, "transformer": transformer, "vae": vae,
            "scheduler": scheduler}


def save_tiny_skyreels_folder(components: dict, folder: str | os.PathLike) -> Path:
    """Write `components` to `folder` in diffusers' pipeline layout and return the folder."""
    return save_pipeline_folder(components, folder, "SkyReelsV2DiffusionForcingImageToVideoPipeline")


def tiny_skyreels_prompt_encoder(prompt: str) -> torch.Tensor:
    """Deterministic stand-in UMT5 embeddings (1, tokens, TINY_TEXT_DIM): a pure function of the prompt."""
    generator = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))
    return torch.randn(1, TINY_PROMPT_TOKENS, TINY_TEXT_DIM, generator=generator)
