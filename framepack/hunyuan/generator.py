"""The full-scale FramePack generator: the released HunyuanVideo FramePack model, driven by the
suite's own sampler, from a local weights folder.

diffusers supplies the networks (transformer, VAE, text and image encoders) and the offloading
machinery; the section loop, the context packing (`framepack.hunyuan.layout`), the flow-matching
sampler (`framepack.flow_matching`) and the overlapped decoding (`framepack.hunyuan.codec`) are
the suite's. On the same inputs and seed the frames equal `HunyuanVideoFramepackPipeline`'s
(tests/test_diffusers_equivalence.py).

Why this loop is not `framepack.framepack_generator.FramePackGenerator` (which shares the
plans, `PackedGroup`s and `flow_matching.sample` used here, and whose `VelocityModel` call
`DiffusersFramePackModel` already satisfies):
  1. its `LatentCodec` maps one latent frame to one pixel frame, decoded per section; the
     HunyuanVideo VAE is causal with 4x temporal compression (n latents -> 4(n-1)+1 frames) and the
     released pipeline decodes each section together with its neighbour and cross-fades 33 frames;
  2. its noise comes from `section_seed(seed, section)`; matching the released pipeline needs one
     generator stream shared by the start/end images' VAE posterior samples and the sections' noise;
  3. it always plans with `plan_sections`, which differs from the released F1 (vanilla) layout and,
     with an end image, from the released zero-slot positions (see `framepack.hunyuan.layout`);
  4. it hands the user's start image to the sink as frame 0; the released pipeline decodes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from framepack.flow_matching import sample, time_grid
from framepack.generator import FrameSink, GenerationRequest, ProgressEvent
from framepack.hunyuan.cache import CacheSpec, cached_and_counted
from framepack.hunyuan.codec import HunyuanVideoCodec, OverlapDecoder, pixels_to_unit, unit_to_uint8
from framepack.hunyuan.diffusers_backend import DiffusersFramePackModel, HunyuanConditioning
from framepack.hunyuan.layout import RELEASED_ORDERS, released_plans, released_schedule
from framepack.hunyuan.weights import check_weights_folder
from framepack.packed_group import PackedGroup
from framepack.section_plan import SectionPlan, last_uses

OFFLOAD_MODES = ("none", "model", "sequential")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | None) -> torch.device:
    """`device`, or cuda when available and cpu otherwise."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """`dtype` by name, or bfloat16 on a GPU and float32 on the CPU."""
    if dtype is not None:
        return DTYPES[dtype]
    return torch.bfloat16 if device.type == "cuda" else torch.float32


@dataclass(frozen=True)
class PromptEmbeddings:
    """Text conditioning of the HunyuanVideo transformer (what `encode_prompt` returns)."""

    prompt_embeds: torch.Tensor  # (1, L, D) Llama hidden states
    prompt_attention_mask: torch.Tensor  # (1, L)
    pooled_prompt_embeds: torch.Tensor  # (1, D2) CLIP pooled output


PromptEncoder = Callable[[str], PromptEmbeddings]


@dataclass(frozen=True)
class HunyuanOptions:
    """How the full-scale generator samples and where it runs.

    Attributes:
        order: "inverted_anti_drifting" (FramePackI2V_HY; supports an end image) or "vanilla" (F1).
        height, width: output size in pixels, multiples of 16; the start image is resized to it.
        window: latent frames per section (9 in the released models: 33 pixel frames).
        steps: Euler steps per section (the diffusers pipeline's num_inference_steps).
        distilled_guidance: distilled-guidance strength (the released samplers use 10).
        fps: frame rate of the output video (the released models: 30).
        offload: "none" (everything on `device`), "model" (one model on the GPU at a time; ~ 16 GB
            for bf16), "sequential" (layer by layer; slowest, fits ~ 6 GB).
        vae_tiling: decode the VAE in tiles (needed below ~ 16 GB at 640 px).
        device: "cuda", "cpu", ...; None picks cuda when available.
        dtype: "bfloat16", "float16" or "float32"; None means bfloat16 on a GPU, float32 on the CPU.
        cache: a step cache on the transformer, `{kind: first_block|mag|taylorseer|faster, ...}`
            (see `framepack.hunyuan.cache`); None runs every block of every step.
    """

    order: str = "inverted_anti_drifting"
    height: int = 640
    width: int = 640
    window: int = 9
    steps: int = 25
    distilled_guidance: float = 10.0
    fps: int = 30
    offload: str = "none"
    vae_tiling: bool = False
    device: str | None = None
    dtype: str | None = None
    cache: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", CacheSpec.parse(self.cache))
        if self.order not in RELEASED_ORDERS:
            raise ValueError(f"order must be one of {RELEASED_ORDERS}, got {self.order!r}")
        if self.height % 16 or self.width % 16 or self.height < 16 or self.width < 16:
            raise ValueError(f"height and width must be positive multiples of 16, got {self.height}x{self.width}")
        if self.window < 1 or self.steps < 1:
            raise ValueError(f"window and steps must be >= 1, got window={self.window}, steps={self.steps}")
        if self.offload not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {self.offload!r}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def resolved_device(self) -> torch.device:
        return resolve_device(self.device)

    def resolved_dtype(self) -> torch.dtype:
        return resolve_dtype(self.dtype, self.resolved_device())

    def pixel_frames(self, num_sections: int) -> int:
        """Pixel frames of a video of `num_sections` sections: 4·window·sections + 1."""
        return 4 * self.window * num_sections + 1


class HunyuanFramePackGenerator:
    """A `framepack.generator.Generator` over the released FramePack model.

    Args:
        pipeline: a `HunyuanVideoFramepackPipeline` holding the components (its own `__call__` is
            never used; it provides the encoders, the VAE and the offload hooks).
        options: sampling and placement options.
        prompt_encoder: prompt -> `PromptEmbeddings`; None uses the pipeline's tokenizers and text
            encoders (required then).
    """

    def __init__(self, pipeline, options: HunyuanOptions, prompt_encoder: PromptEncoder | None = None) -> None:
        if prompt_encoder is None and (pipeline.tokenizer is None or pipeline.tokenizer_2 is None):
            raise ValueError("the pipeline has no tokenizers; give prompt_encoder (prompt -> PromptEmbeddings)")
        self.pipeline = pipeline
        self.options = options
        self.prompt_encoder = prompt_encoder
        self.model = DiffusersFramePackModel(pipeline.transformer, distilled_guidance=options.distilled_guidance)
        self.schedule = released_schedule(options.order, options.window)
        self.name = f"hunyuan:{self.schedule}"
        self.fps = options.fps
        self.peak_history_frames = 0  # the most latent frames held at once by the last generation
        self.last_compute: dict[str, Any] = {}  # network evaluations and blocks computed / skipped

    # -- the Generator interface -----------------------------------------------------------------

    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate `request` and hand uint8 frames (T, H, W, 3) to `sink`, then close it."""
        self.generate_unit_frames(request, lambda first, frames: sink.put(first, unit_to_uint8(frames)))
        sink.close()

    @torch.no_grad()
    def generate_unit_frames(self, request: GenerationRequest, emit: Callable[[int, torch.Tensor], None]) -> None:
        """Generate `request`, calling `emit(first_time_index, frames)` with float frames (T, H, W, 3)
        in [0, 1] as soon as they are final (end first for the inverted order).

        The seed's stream is drawn in the released pipeline's order: the start image's VAE
        posterior sample, the end image's, then one (1, C, window, H/8, W/8) normal draw per section.
        """
        options = self.options
        if request.start_image is None:
            raise ValueError("the FramePack image-to-video model needs request.start_image")
        if request.end_image is not None and options.order != "inverted_anti_drifting":
            raise ValueError(f"an end image needs order 'inverted_anti_drifting', got {options.order!r}")
        pipe = self.pipeline
        device = pipe._execution_device
        dtype = pipe.transformer.dtype
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        num_sections = request.num_sections

        text = self._encode_prompt(request.prompt, device)
        start_pixels = self._preprocess(request.start_image)
        image_embeds = pipe.encode_image(start_pixels, device=device).to(dtype)
        # The end image enters through its latent only: diffusers' pipeline computes the mean of both
        # image embeddings (as the released first-last-frame mode does) but conditions on the start
        # image's alone; we follow diffusers so the two stay frame-identical.
        end_pixels = self._preprocess(request.end_image) if request.end_image is not None else None
        cond = HunyuanConditioning(
            prompt_embeds=text.prompt_embeds.to(device=device, dtype=dtype),
            prompt_attention_mask=text.prompt_attention_mask.to(device=device, dtype=dtype),
            pooled_prompt_embeds=text.pooled_prompt_embeds.to(device=device, dtype=dtype),
            image_embeds=image_embeds,
        )
        codec = HunyuanVideoCodec(pipe.vae, device)
        start_latent = codec.encode_image(start_pixels, generator)
        end_latent = codec.encode_image(end_pixels, generator) if end_pixels is not None else None

        latent_shape = (1, start_latent.shape[1], options.window, *start_latent.shape[3:])
        timesteps = self._time_grid(latent_shape)
        reverse = options.order == "inverted_anti_drifting"
        decoder = OverlapDecoder(
            codec,
            options.window,
            options.pixel_frames(num_sections),
            reverse=reverse,
            emit=lambda first, pixels: emit(first, pixels_to_unit(pixels)),
        )
        plans = released_plans(options.order, num_sections, options.window, has_end=end_latent is not None)
        # latent time -> (1, C, 1, h, w): the start frame, the end image (just after the video), and
        # the generated frames some later plan still reads.
        history: dict[int, torch.Tensor] = {0: start_latent}
        last_frame = options.window * num_sections
        if end_latent is not None:
            history[last_frame + 1] = end_latent
        zero = torch.zeros_like(start_latent)
        self.peak_history_frames = len(history)
        last_use = last_uses(plans)
        with cached_and_counted(pipe.transformer, options.cache, options.steps,
                                lambda: self.model.current_timestep) as counter:
            for step, plan in enumerate(plans):
                counter.new_sample()  # each section starts from fresh noise: forget cached residuals
                context = [
                    PackedGroup(
                        latents=torch.cat([zero if f is None else history[f] for f in piece.frames], dim=2),
                        frame_indices=torch.tensor(piece.positions),
                        kernel=piece.kernel,
                    )
                    for piece in plan.context
                ]
                positions = torch.tensor(plan.generated_positions)
                noise = _randn(latent_shape, generator, device)

                def velocity(x, t, positions=positions, context=context):
                    return self.model(x, positions, t.reshape(1, 1), context, cond)

                def on_step(index, total, _x, step=step):
                    request.report(ProgressEvent("step", index + 1, total, section=step))

                latents = sample(velocity, noise, timesteps, solver="euler", on_step=on_step)
                neighbour = self._neighbour(plan, history, reverse, last_frame)
                for offset, frame in enumerate(plan.generated):
                    history[frame] = latents[:, :, offset : offset + 1]
                section_latents = torch.cat([start_latent, latents], dim=2) if plan.generated[0] == 1 else latents
                decoder.add(section_latents, neighbour)
                # Keep what a later plan reads and this section (the next one decodes next to it).
                for frame in [f for f in history if 0 < f <= last_frame and last_use.get(f, -1) <= step]:
                    if frame not in plan.generated:
                        del history[frame]
                self.peak_history_frames = max(self.peak_history_frames, len(history))
                request.report(ProgressEvent("section", step + 1, num_sections, section=step))
        self.last_compute = counter.report()
        decoder.finish()
        pipe.maybe_free_model_hooks()

    # -- pieces --------------------------------------------------------------------------------------

    def _encode_prompt(self, prompt: str, device: torch.device) -> PromptEmbeddings:
        if self.prompt_encoder is not None:
            return self.prompt_encoder(prompt)
        embeds, pooled, mask = self.pipeline.encode_prompt(prompt=prompt, device=device)
        return PromptEmbeddings(embeds, mask, pooled)

    def _preprocess(self, image: np.ndarray) -> torch.Tensor:
        """uint8 (H, W, 3) -> (1, 3, height, width) in [-1, 1], resized as diffusers' pipeline does."""
        from PIL import Image

        return self.pipeline.video_processor.preprocess(Image.fromarray(image), self.options.height, self.options.width)

    def _time_grid(self, latent_shape: tuple[int, ...]) -> torch.Tensor:
        """Euler times from 1 to 0 with the scheduler's shift (static or resolution-dependent)."""
        config = self.pipeline.scheduler.config
        if not config.get("use_dynamic_shifting", False):
            return time_grid(self.options.steps, shift=float(config.get("shift", 1.0)))
        # Resolution-dependent shift, as the released pipeline computes it (capped at shift 7).
        patch = self.pipeline.transformer.config.patch_size
        seq_len = latent_shape[2] * latent_shape[3] * latent_shape[4] / patch**2
        base_len, max_len = config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096)
        base_shift, max_shift = config.get("base_shift", 0.5), config.get("max_shift", 1.15)
        slope = (max_shift - base_shift) / (max_len - base_len)
        mu = min(seq_len * slope + base_shift - slope * base_len, math.log(7.0))
        return time_grid(self.options.steps, mu=mu)

    def _neighbour(self, plan: SectionPlan, history: dict[int, torch.Tensor], reverse: bool, last_frame: int):
        """The already generated section next to `plan` in time (decoded together with it), or None."""
        window = self.options.window
        first, last = plan.generated[0], plan.generated[-1]
        times = range(last + 1, last + 1 + window) if reverse else range(first - window, first)
        if not all(1 <= t <= last_frame and t in history for t in times):
            return None
        return torch.cat([history[t] for t in times], dim=2)


def _randn(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A normal draw from the CPU `generator`, moved to `device` (as diffusers' randn_tensor does)."""
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


def place_pipeline(pipe, offload: str, device: torch.device) -> None:
    """Put a diffusers pipeline on `device`: wholly ("none"), one model at a time ("model") or layer by
    layer ("sequential") from the CPU."""
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def build_pipeline(components: dict, options: HunyuanOptions):
    """A `HunyuanVideoFramepackPipeline` over `components` (name -> module; tokenizers may be None),
    placed and offloaded as `options` says."""
    from diffusers import HunyuanVideoFramepackPipeline

    pipe = HunyuanVideoFramepackPipeline(**components)
    place_pipeline(pipe, options.offload, options.resolved_device())
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    return pipe


def load_hunyuan_generator(
    weights_dir: str | Path, prompt_encoder: PromptEncoder | None = None, **options
) -> HunyuanFramePackGenerator:
    """Load the full-scale FramePack generator from a local folder in diffusers' layout.

    Args:
        weights_dir: folder with subfolders transformer/, vae/, scheduler/, text_encoder/,
            text_encoder_2/, tokenizer/, tokenizer_2/, image_encoder/, feature_extractor/.
            Missing pieces raise `framepack.hunyuan.weights.MissingWeightsError` listing every
            missing file, where it goes and which model repository it comes from.
        prompt_encoder: prompt -> `PromptEmbeddings`; when given, the tokenizers are not needed.
        **options: fields of `HunyuanOptions` (order, height, width, window, steps,
            distilled_guidance, fps, offload, vae_tiling, device, dtype).
    """
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoFramepackTransformer3DModel,
    )
    from transformers import (
        AutoTokenizer,
        CLIPTextModel,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionModel,
    )

    opts = HunyuanOptions(**options)
    folder = check_weights_folder(weights_dir, opts.order, with_tokenizers=prompt_encoder is None)
    dtype = opts.resolved_dtype()
    common = {"torch_dtype": dtype, "local_files_only": True}
    components = {
        "transformer": HunyuanVideoFramepackTransformer3DModel.from_pretrained(folder / "transformer", **common),
        "vae": AutoencoderKLHunyuanVideo.from_pretrained(folder / "vae", **common),
        "scheduler": FlowMatchEulerDiscreteScheduler.from_pretrained(folder / "scheduler"),
        "text_encoder": LlamaModel.from_pretrained(folder / "text_encoder", **common),
        "text_encoder_2": CLIPTextModel.from_pretrained(folder / "text_encoder_2", **common),
        "image_encoder": SiglipVisionModel.from_pretrained(folder / "image_encoder", **common),
        "feature_extractor": SiglipImageProcessor.from_pretrained(folder / "feature_extractor"),
        "tokenizer": None,
        "tokenizer_2": None,
    }
    if prompt_encoder is None:
        components["tokenizer"] = AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
        components["tokenizer_2"] = AutoTokenizer.from_pretrained(folder / "tokenizer_2", local_files_only=True)
    for module in components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    return HunyuanFramePackGenerator(build_pipeline(components, opts), opts, prompt_encoder)


def with_options(generator: HunyuanFramePackGenerator, **changes) -> HunyuanFramePackGenerator:
    """The same loaded components with some sampling options changed (no reload).
    Placement options (offload, device, dtype, vae_tiling) cannot change this way."""
    placement = {"offload", "device", "dtype", "vae_tiling"} & set(changes)
    if placement:
        raise ValueError(f"options {sorted(placement)} change where models live; load the generator again")
    return HunyuanFramePackGenerator(generator.pipeline, replace(generator.options, **changes), generator.prompt_encoder)
