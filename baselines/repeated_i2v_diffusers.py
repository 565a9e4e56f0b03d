"""Repeated image-to-video at full scale: diffusers' `HunyuanVideoImageToVideoPipeline`, run again from
the last frame it produced (`baselines.repeated_i2v.RepeatedImageToVideo`).

Of the paper's alternative architectures only this one has public weights at HunyuanVideo scale
(HunyuanVideo-I2V); the others would have to be fine-tuned from HunyuanVideo with the lab recipes'
code (see the README's Baselines section). Weights are read from a local diffusers folder and never
downloaded; the tests run the real pipeline class with tiny random weights
(`baselines.hunyuan_i2v_tiny`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from baselines.repeated_i2v import RepeatedImageToVideo
from framepack.generator import FrameSink, GenerationRequest, ProgressEvent
from framepack.hunyuan.generator import PromptEncoder
from framepack.hunyuan.weights import DIFFUSERS_WEIGHTS, MODEL_WEIGHTS, ComponentSpec, check_components

NAME = "repeated_i2v (HunyuanVideo-I2V)"
I2V_REPOSITORY = "hunyuanvideo-community/HunyuanVideo-I2V"
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json+merges.txt")


def i2v_component_specs() -> tuple[ComponentSpec, ...]:
    """What a diffusers HunyuanVideo-I2V folder holds, each file's source named for error messages."""
    source = I2V_REPOSITORY
    return (
        ComponentSpec(".", ("model_index.json",), (), f"{source} (repository root)"),
        ComponentSpec("transformer", ("config.json",), DIFFUSERS_WEIGHTS, f"{source}, subfolder transformer/"),
        ComponentSpec("vae", ("config.json",), DIFFUSERS_WEIGHTS, f"{source}, subfolder vae/"),
        ComponentSpec("scheduler", ("scheduler_config.json",), (), f"{source}, subfolder scheduler/"),
        ComponentSpec("text_encoder", ("config.json",), MODEL_WEIGHTS, f"{source}, subfolder text_encoder/"),
        ComponentSpec("text_encoder_2", ("config.json",), MODEL_WEIGHTS, f"{source}, subfolder text_encoder_2/"),
        ComponentSpec("tokenizer", ("tokenizer_config.json",), _TOKENIZER_FILES, f"{source}, subfolder tokenizer/"),
        ComponentSpec("tokenizer_2", ("tokenizer_config.json",), _TOKENIZER_FILES,
                      f"{source}, subfolder tokenizer_2/"),
        ComponentSpec("image_processor", ("preprocessor_config.json",), (), f"{source}, subfolder image_processor/"),
    )


@dataclass(frozen=True)
class ImageToVideoOptions:
    """How each image-to-video run samples.

    Attributes:
        height, width: output size in pixels (multiples of 16); images are resized to it.
        latent_frames: latent frames per run, the start image's included; a run makes
            4·(latent_frames − 1) new pixel frames (the VAE's 4× temporal compression).
        steps: the pipeline's Euler steps per run.
        guidance_scale: HunyuanVideo's embedded (distilled) guidance strength.
        fps: frame rate of the output video.
    """

    height: int = 544
    width: int = 960
    latent_frames: int = 9
    steps: int = 25
    guidance_scale: float = 6.0
    fps: int = 24

    def __post_init__(self) -> None:
        if self.height % 16 or self.width % 16 or self.height < 16 or self.width < 16:
            raise ValueError(f"height and width must be positive multiples of 16, got {self.height}x{self.width}")
        if self.latent_frames < 2 or self.steps < 1:
            raise ValueError(f"latent_frames must be >= 2 and steps >= 1, got {self.latent_frames}, {self.steps}")

    @property
    def pixel_frames(self) -> int:
        """The pipeline's num_frames: 4·(latent_frames − 1) + 1."""
        return 4 * (self.latent_frames - 1) + 1


def _resize(image: np.ndarray, height: int, width: int):
    import PIL.Image

    picture = PIL.Image.fromarray(image)
    if picture.size != (width, height):
        picture = picture.resize((width, height), PIL.Image.Resampling.LANCZOS)
    return picture


class DiffusersImageToVideo:
    """One image-to-video run of a `HunyuanVideoImageToVideoPipeline` as a one-section `Generator`.

    The video is the start image (resized to the output size) followed by the run's new frames.

    Args:
        pipeline: a `HunyuanVideoImageToVideoPipeline` (real weights, or `build_tiny_i2v_pipeline()`).
        options: sampling options.
        prompt_encoder: prompt -> `PromptEmbeddings`; None lets the pipeline encode the prompt (needs
            its tokenizers and text encoders).
    """

    def __init__(self, pipeline, options: ImageToVideoOptions | None = None, prompt_encoder: PromptEncoder | None = None) -> None:
        self.pipeline = pipeline
        self.options = options or ImageToVideoOptions()
        self.prompt_encoder = prompt_encoder
        self.name = "HunyuanVideo-I2V (one run)"
        self.fps = self.options.fps
        self.steps = self.options.steps

    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate one run from `request.start_image` (required; `num_sections` must be 1)."""
        if request.start_image is None:
            raise ValueError("image-to-video needs a start image (request.start_image is None)")
        if request.num_sections != 1 or request.end_image is not None:
            raise ValueError("one image-to-video run makes one section from a start image (no end image); "
                             "wrap it in RepeatedImageToVideo for longer videos")
        options = self.options
        image = _resize(request.start_image, options.height, options.width)
        text = {}
        if self.prompt_encoder is not None:
            embeddings = self.prompt_encoder(request.prompt)
            text = {"prompt_embeds": embeddings.prompt_embeds,
                    "prompt_attention_mask": embeddings.prompt_attention_mask,
                    "pooled_prompt_embeds": embeddings.pooled_prompt_embeds}
        else:
            text = {"prompt": request.prompt}

        def on_step(pipeline, step, timestep, tensors):
            request.report(ProgressEvent("step", step + 1, options.steps, 0))
            return {}

        device = getattr(self.pipeline, "_execution_device", torch.device("cpu"))
        video = self.pipeline(
            image=image,
            height=options.height,
            width=options.width,
            num_frames=options.pixel_frames,
            num_inference_steps=options.steps,
            guidance_scale=options.guidance_scale,
            generator=torch.Generator(device=device).manual_seed(request.seed),
            output_type="np",
            callback_on_step_end=on_step,
            **text,
        ).frames[0]
        frames = (np.asarray(video) * 255.0).round().clip(0, 255).astype(np.uint8)
        if self.pipeline.transformer.config.image_condition_type == "token_replace":
            frames = frames[1:]  # the first decoded frame is the conditioning image's latent
        sink.put(0, np.asarray(image, dtype=np.uint8)[None])
        sink.put(1, frames)
        sink.close()


def repeated_i2v_diffusers(
    pipeline, options: ImageToVideoOptions | None = None, prompt_encoder: PromptEncoder | None = None
) -> RepeatedImageToVideo:
    """Repeated image-to-video over a `HunyuanVideoImageToVideoPipeline` (see `DiffusersImageToVideo`)."""
    single = DiffusersImageToVideo(pipeline, options, prompt_encoder)
    return RepeatedImageToVideo(single, name=NAME)


def load_repeated_i2v_diffusers(
    folder: str | os.PathLike,
    options: ImageToVideoOptions | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> RepeatedImageToVideo:
    """Load HunyuanVideo-I2V from a local diffusers folder (never downloads) as the repeated baseline.

    Args:
        folder: a diffusers folder of `HunyuanVideoImageToVideoPipeline` (model_index.json, transformer/,
            vae/, scheduler/, text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/, image_processor/).
        options: sampling options.
        device: "cuda", "cpu", ...; None picks cuda when available.
        dtype: None means bfloat16 on a GPU, float32 on the CPU.

    Raises:
        framepack.hunyuan.weights.MissingWeightsError (a FileNotFoundError): names every missing file
            and the repository it comes from; nothing is downloaded.
    """
    folder = check_components(folder, i2v_component_specs(), "HunyuanVideo-I2V weights")
    from diffusers import HunyuanVideoImageToVideoPipeline

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    pipeline = HunyuanVideoImageToVideoPipeline.from_pretrained(folder, torch_dtype=dtype, local_files_only=True)
    pipeline.to(device)
    return repeated_i2v_diffusers(pipeline, options)
