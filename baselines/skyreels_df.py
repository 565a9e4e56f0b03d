"""SkyReels-V2 diffusion forcing at full scale: the paper's "noisy history / diffusion forcing" family
with public weights, through diffusers' `SkyReelsV2DiffusionForcing(ImageToVideo)Pipeline`.

Diffusion forcing gives every latent frame its own noise level. A long video is made by the
model's own autoregressive scheme: windows of `base_num_frames` pixel frames, each new window
conditioned on the last `overlap_history` frames of the previous one; inside a window, `ar_step > 0`
staggers the frames' timesteps by causal block (`causal_block_size` frames) so earlier blocks are
cleaner than later ones ("asynchronous" mode; 0 = all frames at one level).

`addnoise_condition` is the σ_test analogue of the suite's noisy-history baseline
(`baselines.noisy_history`): the history (conditioning) latents are mixed with fresh noise as
x·(1 − a/1000) + ε·a/1000 and presented to the model at timestep a, i.e. at flow time σ ≈ a/1000.
SkyReels recommends a = 20 (σ ≈ 0.02); 0 gives clean history.

The suite does not re-implement the sampler: it calls the pipeline for latents (same seed, same
inputs: the frames equal the pipeline's own output, tests/test_skyreels_df.py) and decodes them
streamed (`baselines.wan_streamed_decode`). Weights come from a local folder in diffusers' layout;
nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.wan_streamed_decode import decode_streamed
from framepack.generator import FrameSink, GenerationRequest, ProgressEvent
from framepack.hunyuan.cache import CacheSpec, cached_and_counted
from framepack.hunyuan.codec import pixels_to_unit, unit_to_uint8
from framepack.hunyuan.generator import DTYPES, place_pipeline, resolve_device, resolve_dtype
from framepack.hunyuan.weights import (
    DIFFUSERS_WEIGHTS,
    MODEL_WEIGHTS,
    ComponentSpec,
    check_components,
)

SKYREELS_REPOSITORIES = ("Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers", "Skywork/SkyReels-V2-DF-14B-540P-Diffusers",
                         "Skywork/SkyReels-V2-DF-14B-720P-Diffusers")
DEFAULT_REPOSITORY = SKYREELS_REPOSITORIES[1]
WEIGHTS_TITLE = "SkyReels-V2 diffusion-forcing weights"
# The model card's recommendations (diffusers' pipeline docstring): flow shift and guidance per mode.
FLOW_SHIFT = {"i2v": 5.0, "t2v": 8.0}
GUIDANCE = {"i2v": 5.0, "t2v": 6.0}
OFFLOAD_MODES = ("none", "model", "sequential")
# diffusers 0.42 has not registered SkyReels' block class for first_block / mag, and TaylorSeer's default
# module patterns skip nothing in it (measured on the tiny model); FasterCache works.
SUPPORTED_CACHES = ("faster",)


def skyreels_component_specs(repository: str = DEFAULT_REPOSITORY,
                             with_tokenizer: bool = True) -> tuple[ComponentSpec, ...]:
    """The subfolders a SkyReels-V2 DF folder needs, each naming the repository it comes from."""
    specs = [
        ComponentSpec("transformer", ("config.json",), DIFFUSERS_WEIGHTS, f"{repository}, subfolder transformer/"),
        ComponentSpec("vae", ("config.json",), DIFFUSERS_WEIGHTS, f"{repository}, subfolder vae/"),
        ComponentSpec("scheduler", ("scheduler_config.json",), (), f"{repository}, subfolder scheduler/"),
        ComponentSpec("text_encoder", ("config.json",), MODEL_WEIGHTS, f"{repository}, subfolder text_encoder/"),
    ]
    if with_tokenizer:
        specs.append(ComponentSpec("tokenizer", ("tokenizer_config.json",), ("tokenizer.json", "spiece.model"),
                                   f"{repository}, subfolder tokenizer/"))
    return tuple(specs)


def check_skyreels_folder(folder: str | Path, repository: str = DEFAULT_REPOSITORY,
                          with_tokenizer: bool = True) -> Path:
    """`folder` if complete; `framepack.hunyuan.weights.MissingWeightsError` listing every missing file otherwise."""
    return check_components(folder, skyreels_component_specs(repository, with_tokenizer), WEIGHTS_TITLE)


@dataclass(frozen=True)
class SkyReelsOptions:
    """How the diffusion-forcing pipeline samples and where it runs.

    Attributes:
        height, width: output size (multiples of 16; 544x960 for the 540P models, 720x1280 for 720P).
        frames_per_section: pixel frames per suite "section"; a video of n sections has
            frames_per_section·n + 1 frames. 36 = FramePack's 4·9, so grid lengths match its rows.
        base_num_frames: pixel frames per window (97 for 540P, 121 for 720P; 4k + 1).
        overlap_history: pixel frames of the previous window each new window is conditioned on (17 or 37).
        addnoise_condition: noise added to the history, on the 0..1000 timestep scale (σ_test·1000; 20).
        ar_step: timestep lag between causal blocks (0: synchronous; 5 for asynchronous).
        causal_block_size: latent frames per causal block (None: the model's; 5 with ar_step 5).
        steps: scheduler steps (num_inference_steps).
        guidance_scale: classifier-free guidance; None: 5.0 image-to-video, 6.0 text-to-video.
        flow_shift: the UniPC scheduler's flow shift; None: 5.0 image-to-video, 8.0 text-to-video.
        negative_prompt: the unconditional prompt of classifier-free guidance.
        fps: frame rate of the output video (24).
        repository: the model repository the weights folder holds (named in missing-file messages).
        offload: "none", "model" or "sequential" CPU offloading.
        device: "cuda", "cpu", ...; None picks cuda when available.
        dtype: the transformer's dtype ("bfloat16", "float16", "float32"); None: bfloat16 on a GPU,
            float32 on the CPU. The VAE stays float32 (as the model card runs it).
        cache: a step cache on the transformer (`framepack.hunyuan.cache`); None: none.
    """

    height: int = 544
    width: int = 960
    frames_per_section: int = 36
    base_num_frames: int = 97
    overlap_history: int = 17
    addnoise_condition: float = 20.0
    ar_step: int = 0
    causal_block_size: int | None = None
    steps: int = 30
    guidance_scale: float | None = None
    flow_shift: float | None = None
    negative_prompt: str = ""
    fps: int = 24
    repository: str = DEFAULT_REPOSITORY
    offload: str = "none"
    device: str | None = None
    dtype: str | None = None
    cache: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", CacheSpec.parse(self.cache))
        if self.cache is not None and self.cache.kind not in SUPPORTED_CACHES:
            raise ValueError(f"cache kind {self.cache.kind!r} does not work on the SkyReels-V2 transformer with "
                             f"diffusers 0.42; supported here: {SUPPORTED_CACHES}")
        if self.height % 16 or self.width % 16 or self.height < 16 or self.width < 16:
            raise ValueError(f"height and width must be positive multiples of 16, got {self.height}x{self.width}")
        if self.frames_per_section < 4 or self.frames_per_section % 4:
            raise ValueError(f"frames_per_section must be a positive multiple of 4, got {self.frames_per_section}")
        for name in ("base_num_frames", "overlap_history"):
            value = getattr(self, name)
            if value < 1 or value % 4 != 1:
                raise ValueError(f"{name} must be 4k + 1 (the VAE compresses time 4x), got {value}")
        if self.overlap_history >= self.base_num_frames:
            raise ValueError(f"overlap_history ({self.overlap_history}) must be below base_num_frames "
                             f"({self.base_num_frames})")
        if not 0 <= self.addnoise_condition <= 1000:
            raise ValueError(f"addnoise_condition is a timestep in [0, 1000] (20 recommended), got {self.addnoise_condition}")
        if self.ar_step < 0 or self.steps < 1:
            raise ValueError(f"ar_step must be >= 0 and steps >= 1, got {self.ar_step}, {self.steps}")
        if self.causal_block_size is not None and self.causal_block_size < 1:
            raise ValueError(f"causal_block_size must be >= 1 or None, got {self.causal_block_size}")
        if self.offload not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {self.offload!r}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def pixel_frames(self, num_sections: int) -> int:
        return self.frames_per_section * num_sections + 1

    def resolved_device(self) -> torch.device:
        return resolve_device(self.device)

    def resolved_dtype(self) -> torch.dtype:
        return resolve_dtype(self.dtype, self.resolved_device())


PromptEncoder = Callable[[str], torch.Tensor]  # prompt -> UMT5 embeddings (1, L, D)


def _last_window_is_full(frames: int, base_num_frames: int, overlap_history: int) -> bool:
    """Whether diffusers' long-video loop fills its last window for this length (it fails otherwise:
    diffusers 0.42 indexes past a short last window's timestep matrix)."""
    if frames <= base_num_frames:
        return True
    latent, base, overlap = ((n - 1) // 4 + 1 for n in (frames, base_num_frames, overlap_history))
    windows = 1 + (latent - base - 1) // (base - overlap) + 1
    left = latent - ((windows - 1) * (base - overlap) + overlap)
    return min(left + overlap, base) == base


def pipeline_frames(frames: int, base_num_frames: int, overlap_history: int) -> int:
    """The shortest length >= `frames` (4k + 1) the pipeline's long-video loop can make; the generator
    asks for it and keeps the first `frames` frames (causal decoding: earlier frames do not depend on
    later ones)."""
    while not _last_window_is_full(frames, base_num_frames, overlap_history):
        frames += 4
    return frames


class SkyReelsDiffusionForcing:
    """A `framepack.generator.Generator` over SkyReels-V2 DF: image-to-video when the request has a
    start image (optionally an end image), text-to-video otherwise.

    Args:
        components: the pipeline components (tokenizer, text_encoder, transformer, vae, scheduler).
        options: sampling and placement options.
        prompt_encoder: prompt -> UMT5 embeddings; None uses the tokenizer and text encoder.
    """

    def __init__(self, components: dict, options: SkyReelsOptions | None = None,
                 prompt_encoder: PromptEncoder | None = None) -> None:
        from diffusers import (
            SkyReelsV2DiffusionForcingImageToVideoPipeline,
            SkyReelsV2DiffusionForcingPipeline,
        )

        if prompt_encoder is None and components.get("tokenizer") is None:
            raise ValueError("the SkyReels components have no tokenizer; give prompt_encoder (prompt -> embeddings)")
        self.options = options or SkyReelsOptions()
        self.prompt_encoder = prompt_encoder
        self.pipelines = {"i2v": SkyReelsV2DiffusionForcingImageToVideoPipeline(**components),
                          "t2v": SkyReelsV2DiffusionForcingPipeline(**components)}
        self.base_scheduler_config = dict(components["scheduler"].config)
        self.transformer = components["transformer"]
        self.vae = components["vae"]
        for pipe in self.pipelines.values():
            pipe.set_progress_bar_config(disable=True)
            place_pipeline(pipe, self.options.offload, self.options.resolved_device())
        self.name = "skyreels_df"
        self.fps = self.options.fps
        self.last_compute: dict[str, Any] = {}

    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate `request` and hand uint8 frames (T, H, W, 3) to `sink` in time order, then close it."""
        self.generate_unit_frames(request, lambda first, frames: sink.put(first, unit_to_uint8(frames)))
        sink.close()

    @torch.no_grad()
    def generate_unit_frames(self, request: GenerationRequest, emit: Callable[[int, torch.Tensor], None]) -> None:
        """Generate `request`, calling `emit(first, frames)` with float frames (T, H, W, 3) in [0, 1].

        The seed seeds the pipeline's noise generator and, inside a forked RNG, the global stream
        the pipeline draws `addnoise_condition`'s noise from.
        """
        from diffusers import UniPCMultistepScheduler
        from PIL import Image

        options = self.options
        mode = "i2v" if request.start_image is not None else "t2v"
        if request.end_image is not None and mode == "t2v":
            raise ValueError("an end image needs a start image (SkyReels-V2 DF image-to-video)")
        pipe = self.pipelines[mode]
        shift = options.flow_shift if options.flow_shift is not None else FLOW_SHIFT[mode]
        pipe.scheduler = UniPCMultistepScheduler.from_config(self.base_scheduler_config, flow_shift=shift)
        device = pipe._execution_device
        inputs: dict[str, Any] = {}
        if mode == "i2v":
            inputs["image"] = Image.fromarray(request.start_image)
            if request.end_image is not None:
                inputs["last_image"] = Image.fromarray(request.end_image)
        if self.prompt_encoder is not None:
            inputs["prompt_embeds"] = self.prompt_encoder(request.prompt).to(device)
            inputs["negative_prompt_embeds"] = self.prompt_encoder(options.negative_prompt).to(device)
            if mode == "t2v":
                inputs["prompt"] = None
        else:
            inputs["prompt"] = request.prompt
            inputs["negative_prompt"] = options.negative_prompt

        def on_step(_pipe, index, _t, tensors):
            request.report(ProgressEvent("step", index + 1, _pipe.num_timesteps, section=0))
            return {}

        wanted = options.pixel_frames(request.num_sections)
        if request.end_image is not None and wanted > options.base_num_frames:
            raise ValueError(
                f"an end image works within one window only: {wanted} frames exceed base_num_frames "
                f"({options.base_num_frames}); diffusers' long-video loop cannot place the end frame"
            )
        rng_devices = [device] if device.type == "cuda" else []
        with cached_and_counted(self.transformer, options.cache, options.steps,
                                lambda: float(torch.as_tensor(pipe.current_timestep).max())) as counter, \
                torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(request.seed)
            latents = pipe(
                height=options.height,
                width=options.width,
                num_frames=pipeline_frames(wanted, options.base_num_frames, options.overlap_history),
                num_inference_steps=options.steps,
                guidance_scale=options.guidance_scale if options.guidance_scale is not None else GUIDANCE[mode],
                generator=torch.Generator(device="cpu").manual_seed(request.seed),
                output_type="latent",
                overlap_history=options.overlap_history,
                addnoise_condition=options.addnoise_condition,
                base_num_frames=options.base_num_frames,
                ar_step=options.ar_step,
                causal_block_size=options.causal_block_size,
                fps=options.fps,
                callback_on_step_end=on_step,
                **inputs,
            ).frames
        self.last_compute = counter.report()
        if request.end_image is not None:
            latents = latents[:, :, :-1]  # the end image's latent rides after the video
        latents = latents[:, :, : (wanted - 1) // 4 + 1]

        def emit_wanted(first: int, pixels: torch.Tensor) -> None:
            emit(first, pixels_to_unit(pixels[:, :, : wanted - first].float()))

        decode_streamed(self.vae, latents, emit_wanted)
        request.report(ProgressEvent("section", request.num_sections, request.num_sections,
                                     section=request.num_sections - 1))
        pipe.maybe_free_model_hooks()


def load_skyreels_df(weights_dir: str | os.PathLike, prompt_encoder: PromptEncoder | None = None,
                     **options) -> SkyReelsDiffusionForcing:
    """Load SkyReels-V2 DF from a local folder in diffusers' layout (never downloads).

    Args:
        weights_dir: folder with transformer/, vae/, scheduler/, text_encoder/ and tokenizer/ (the
            Skywork/SkyReels-V2-DF-*-Diffusers repository). Missing pieces raise
            `framepack.hunyuan.weights.MissingWeightsError` naming every file and its source.
        prompt_encoder: prompt -> UMT5 embeddings; when given, the tokenizer is not needed.
        **options: fields of `SkyReelsOptions`.
    """
    from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler
    from transformers import AutoTokenizer, UMT5EncoderModel

    opts = SkyReelsOptions(**options)
    folder = check_skyreels_folder(weights_dir, opts.repository, with_tokenizer=prompt_encoder is None)
    dtype = opts.resolved_dtype()
    components = {
        "transformer": SkyReelsV2Transformer3DModel.from_pretrained(folder / "transformer", torch_dtype=dtype,
                                                                    local_files_only=True),
        "vae": AutoencoderKLWan.from_pretrained(folder / "vae", torch_dtype=torch.float32, local_files_only=True),
        "scheduler": UniPCMultistepScheduler.from_pretrained(folder / "scheduler"),
        "text_encoder": UMT5EncoderModel.from_pretrained(folder / "text_encoder", torch_dtype=dtype,
                                                         local_files_only=True),
        "tokenizer": None if prompt_encoder is not None
        else AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True),
    }
    for module in components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    return SkyReelsDiffusionForcing(components, opts, prompt_encoder)


def frames_of(generator: SkyReelsDiffusionForcing, request: GenerationRequest) -> np.ndarray:
    """The whole video as float frames (T, H, W, 3) in [0, 1] (for tests and small videos)."""
    chunks: list[torch.Tensor] = []
    generator.generate_unit_frames(request, lambda _first, frames: chunks.append(frames))
    return torch.cat(chunks).numpy()
