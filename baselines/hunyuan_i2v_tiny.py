"""A tiny random-weight HunyuanVideo image-to-video pipeline, built offline (for tests and demos).

Real weights cannot be downloaded here, so the full-scale repeated image-to-video baseline is
exercised on `HunyuanVideoImageToVideoPipeline` with the real classes and tiny configs: a
`HunyuanVideoTransformer3DModel` with token-replace image conditioning (as HunyuanVideo-I2V) and
the VAE, scheduler and text encoders of `framepack.hunyuan.tiny`. Tokenizers and the LLaVA image
processor are absent; callers pass text embeddings (`framepack.hunyuan.generator.PromptEmbeddings`).
"""

from __future__ import annotations

import torch

from framepack.hunyuan.generator import PromptEmbeddings
from framepack.hunyuan.tiny import (
    TINY_POOLED_DIM,
    TINY_TEXT_EMBED_DIM,
    TINY_TRANSFORMER_KWARGS,
    build_tiny_hunyuan_components,
)

TINY_PROMPT_TOKENS = 7


def build_tiny_i2v_pipeline(seed: int = 0, image_condition_type: str = "token_replace"):
    """A `HunyuanVideoImageToVideoPipeline` with tiny random weights drawn under `seed` (CPU, float32).

    Args:
        seed: seeds every component.
        image_condition_type: "token_replace" (HunyuanVideo-I2V) or "latent_concat" (the 33-channel I2V).
    """
    from diffusers import HunyuanVideoImageToVideoPipeline, HunyuanVideoTransformer3DModel

    components = build_tiny_hunyuan_components(seed)
    latent_channels = 4
    in_channels = latent_channels if image_condition_type == "token_replace" else 2 * latent_channels + 1
    torch.manual_seed(seed + 10)
    transformer = HunyuanVideoTransformer3DModel(
        **TINY_TRANSFORMER_KWARGS, in_channels=in_channels, image_condition_type=image_condition_type
    ).eval()
    pipeline = HunyuanVideoImageToVideoPipeline(
        text_encoder=components.text_encoder,
        tokenizer=None,
        transformer=transformer,
        vae=components.vae,
        scheduler=components.scheduler,
        text_encoder_2=components.text_encoder_2,
        tokenizer_2=None,
        image_processor=None,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def tiny_prompt_encoder(prompt: str) -> PromptEmbeddings:
    """Deterministic stand-in text embeddings for the tiny pipeline: a pure function of the prompt."""
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(prompt)) % (2**31)
    generator = torch.Generator().manual_seed(seed)
    return PromptEmbeddings(
        prompt_embeds=torch.randn(1, TINY_PROMPT_TOKENS, TINY_TEXT_EMBED_DIM, generator=generator),
        prompt_attention_mask=torch.ones(1, TINY_PROMPT_TOKENS),
        pooled_prompt_embeds=torch.randn(1, TINY_POOLED_DIM, generator=generator),
    )
