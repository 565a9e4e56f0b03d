"""A tiny random-weight FramePack / HunyuanVideo component set, built offline.

Real weights cannot be downloaded here, so the full-scale code path is exercised on
components with the real classes and tiny configs: the FramePack transformer, the
HunyuanVideo VAE, the flow-matching scheduler, Llama + CLIP text encoders and a SigLIP
image encoder. `save_tiny_hunyuan_folder` writes them in diffusers' folder layout, so
loading them back goes through exactly the `from_pretrained` calls used for the real model.

The real Llama / CLIP tokenizers need vocabulary files that only come from the hub, so the
tiny set has word-level stand-ins (a few dozen words, everything else `<unk>`): enough to run the
text path end to end. Tests that compare against diffusers pass text embeddings directly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

TINY_IMAGE_SIZE = 30  # SigLIP input size of the tiny image encoder
TINY_TEXT_EMBED_DIM = 16  # Llama hidden size == transformer text_embed_dim
TINY_POOLED_DIM = 8  # CLIP hidden size == transformer pooled_projection_dim
TINY_IMAGE_EMBED_DIM = 32  # SigLIP hidden size == transformer image_proj_dim

# The transformer settings shared by the tiny FramePack and image-to-video HunyuanVideo models.
TINY_TRANSFORMER_KWARGS = dict(
    out_channels=4,
    num_attention_heads=2,
    attention_head_dim=10,
    num_layers=1,
    num_single_layers=1,
    num_refiner_layers=1,
    patch_size=2,
    patch_size_t=1,
    guidance_embeds=True,
    text_embed_dim=TINY_TEXT_EMBED_DIM,
    pooled_projection_dim=TINY_POOLED_DIM,
    rope_axes_dim=(2, 4, 4),
)


@dataclass
class TinyHunyuanComponents:
    """The nine pipeline components of a tiny random FramePack model (tokenizers may be None)."""

    transformer: torch.nn.Module
    vae: torch.nn.Module
    scheduler: object
    text_encoder: torch.nn.Module
    text_encoder_2: torch.nn.Module
    image_encoder: torch.nn.Module
    feature_extractor: object
    tokenizer: object | None = None
    tokenizer_2: object | None = None

    def as_pipeline_kwargs(self) -> dict:
        """Keyword arguments for `HunyuanVideoFramepackPipeline(...)`."""
        return {
            "transformer": self.transformer,
            "vae": self.vae,
            "scheduler": self.scheduler,
            "text_encoder": self.text_encoder,
            "tokenizer": self.tokenizer,
            "text_encoder_2": self.text_encoder_2,
            "tokenizer_2": self.tokenizer_2,
            "image_encoder": self.image_encoder,
            "feature_extractor": self.feature_extractor,
        }


def build_tiny_hunyuan_components(seed: int = 0, tokenizers: bool = True) -> TinyHunyuanComponents:
    """Build every component with random weights drawn under `seed` (CPU, float32).

    Args:
        seed: seeds `torch.manual_seed` before each component, so the weights are reproducible.
        tokenizers: include the word-level stand-in tokenizers (False leaves them None).
    """
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoFramepackTransformer3DModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        LlamaConfig,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    torch.manual_seed(seed)
    transformer = HunyuanVideoFramepackTransformer3DModel(
        **TINY_TRANSFORMER_KWARGS,
        in_channels=4,
        has_image_proj=True,
        image_proj_dim=TINY_IMAGE_EMBED_DIM,
        has_clean_x_embedder=True,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    torch.manual_seed(seed + 2)
    text_encoder = LlamaModel(
        LlamaConfig(
            vocab_size=1000,
            hidden_size=TINY_TEXT_EMBED_DIM,
            intermediate_size=37,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
        )
    )
    torch.manual_seed(seed + 3)
    text_encoder_2 = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=1000,
            hidden_size=TINY_POOLED_DIM,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            projection_dim=32,
            max_position_embeddings=77,
        )
    )
    torch.manual_seed(seed + 4)
    image_encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=TINY_IMAGE_EMBED_DIM,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=TINY_IMAGE_SIZE,
            patch_size=2,
            num_channels=3,
        )
    )
    feature_extractor = SiglipImageProcessor(
        size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
        do_resize=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    for module in (transformer, vae, text_encoder, text_encoder_2, image_encoder):
        module.eval()
    return TinyHunyuanComponents(
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        image_encoder=image_encoder,
        feature_extractor=feature_extractor,
        tokenizer=_word_tokenizer(model_max_length=512) if tokenizers else None,
        tokenizer_2=_word_tokenizer(model_max_length=77) if tokenizers else None,
    )


_WORDS = (
    "a an the of and in on with to is are red green blue yellow white black ball square circle triangle "
    "cat dog bird person face moves drifts bounces left right up down slowly fast video scene background "
    "describe main content theme color shape size texture objects actions camera"
).split()


def _word_tokenizer(model_max_length: int):
    """A word-level fast tokenizer over `_WORDS` (ids < 1000, the tiny encoders' vocabulary)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1} | {word: index + 2 for index, word in enumerate(_WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", model_max_length=model_max_length
    )


def save_tiny_hunyuan_folder(components: TinyHunyuanComponents, folder: str | os.PathLike) -> Path:
    """Write `components` to `folder` in diffusers' pipeline layout (model_index.json plus one
    subfolder per component, tokenizers listed as absent) and return the folder path."""
    return save_pipeline_folder(components.as_pipeline_kwargs(), folder, "HunyuanVideoFramepackPipeline")


def save_pipeline_folder(components: dict, folder: str | os.PathLike, pipeline_class: str) -> Path:
    """Write pipeline `components` (name -> model, scheduler, processor or None) to `folder` in diffusers'
    layout: a subfolder per component and a model_index.json naming `pipeline_class`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_index = {"_class_name": pipeline_class, "_diffusers_version": _diffusers_version()}
    for name, component in components.items():
        if component is None:
            model_index[name] = [None, None]
            continue
        component.save_pretrained(folder / name)
        library = "diffusers" if type(component).__module__.startswith("diffusers") else "transformers"
        model_index[name] = [library, type(component).__name__]
    tmp = folder / "model_index.json.tmp"
    tmp.write_text(json.dumps(model_index, indent=2))
    os.replace(tmp, folder / "model_index.json")
    return folder


def _diffusers_version() -> str:
    import diffusers

    return diffusers.__version__
