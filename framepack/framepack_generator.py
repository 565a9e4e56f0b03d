"""The FramePack sampler loop: a `Generator` over a packed model, a latent codec and a schedule.

For each section of the plan (`framepack.section_plan`) it gathers the context latents from a
history buffer, packs them into `PackedGroup`s, integrates the flow ODE for the section's noise
(`framepack.flow_matching`), decodes the new frames and hands them to the sink. The buffer holds
only frames a later section still reads (plus the start/end images until their last reader), so
memory is bounded whatever the video length (with a `td` tail; `ta` / `tc` tails read every old
frame by definition).

The model is anything with the `VelocityModel` call signature — `PackedDiT`, or an adapter over
diffusers' transformer — optionally a `SectionMotionModel` (one motion drawn per section), and the
codec anything with `LatentCodec`'s encode/decode.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from framepack.discrete_history import Codebook
from framepack.flow_matching import SOLVERS, Guidance, sample, time_grid
from framepack.generator import FrameSink, GenerationCost, GenerationRequest, ProgressEvent
from framepack.packed_group import PackedGroup
from framepack.schedule import Schedule
from framepack.section_cache import SectionCache
from framepack.section_plan import (
    MISSING_MODES,
    ORDERS,
    SectionPlan,
    default_endpoints,
    last_uses,
    plan_sections,
)

PROMPT_SEPARATOR = "|"


class VelocityModel(Protocol):
    """(noisy (B,C,F,H,W), noisy_indices (F,), timesteps (B,F) in [0,1], context, cond) -> velocity."""

    def __call__(
        self, noisy: torch.Tensor, noisy_indices: torch.Tensor, timesteps: torch.Tensor, context: list[PackedGroup], cond: Any
    ) -> torch.Tensor: ...


@runtime_checkable
class SectionMotionModel(Protocol):
    """A model that commits to one motion per section before denoising (a lab model with a motion
    prior): `draw_motion(noisy_shape, noisy_indices, context, cond, generator)` returns the motion,
    or None when it has none to draw, and every denoising step of the section receives it as
    `model(..., motion=motion)`. The draw uses the section's generator, before the steps do."""

    def draw_motion(
        self, noisy_shape: tuple[int, ...], noisy_indices: torch.Tensor, context: list[PackedGroup], cond: Any,
        generator: torch.Generator | None,
    ) -> Any | None: ...


class LatentCodec(Protocol):
    """Frames float (B, 3, T, H, W) in [-1, 1] <-> latents (B, C, T, h, w), one latent frame per frame."""

    def encode(self, frames: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...


@dataclass
class SectionInputs:
    """What one branch of the model sees for a section: its conditioning and its packed context."""

    cond: Any
    context: list[PackedGroup]


UnconditionalBranch = Callable[[SectionInputs, torch.Generator], SectionInputs]
"""Builds the unconditional branch's inputs from the conditional ones (a generator for any noise)."""

Conditioner = Callable[[str, "torch.Tensor | None"], Any]
"""(prompt, start-image latent (1, C, h, w) or None) -> the model's `cond`."""


def empty_prompt(inputs: SectionInputs, generator: torch.Generator) -> SectionInputs:
    """Classifier-free guidance's usual unconditional branch: the same context, an empty prompt
    (`cond.without_text()`, which `LabConditioning` provides)."""
    without_text = getattr(inputs.cond, "without_text", None)
    if without_text is None:
        raise TypeError(
            f"the default unconditional branch needs cond.without_text(); {type(inputs.cond).__name__} has none — "
            "pass `unconditional=` to FramePackGenerator"
        )
    return SectionInputs(without_text(), inputs.context)


def fully_noised_history(inputs: SectionInputs, generator: torch.Generator) -> SectionInputs:
    """History guidance's unconditional branch: the same prompt, every context frame replaced by
    pure noise at t = 1."""
    noised = []
    for group in inputs.context:
        noise = torch.randn(group.latents.shape, generator=generator).to(group.latents)
        ones = torch.ones(group.batch_size, group.num_frames, dtype=group.latents.dtype)
        noised.append(PackedGroup(noise, group.frame_indices, group.kernel, ones, group.tail_mode))
    return SectionInputs(inputs.cond, noised)


def section_seed(seed: int, section: int) -> int:
    """The noise seed of one section: a hash of (seed, section), so a section's noise does not
    depend on the order sections are generated in."""
    state = np.random.SeedSequence([seed % 2**63, section]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def frames_to_unit(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) → float (1, 3, 1, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None, :, None].float() / 127.5 - 1.0


def unit_to_frames(video: torch.Tensor) -> np.ndarray:
    """float (1, 3, T, H, W) in [-1, 1] → uint8 (T, H, W, 3)."""
    return ((video[0].permute(1, 2, 3, 0).float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


class FramePackGenerator:
    """FramePack with any schedule and section order, as a `framepack.generator.Generator`.

    Args:
        model: a `VelocityModel` (e.g. `PackedDiT`).
        codec: a `LatentCodec` (e.g. `LabCodec`).
        schedule: a `Schedule` or its notation; `+D` needs `codebook`.
        order: one of `section_plan.ORDERS`; default: the schedule's form (error for "custom").
        steps: solver steps per section.
        solver: "euler" or "dpmpp_2m". Euler by default: on the lab models DPM-Solver++(2M) adds
            speckle at the low-noise steps (README "Sampler").
        shift: the time shift of the sampling grid (> 1: more steps at high noise; 12 puts the
            last step at t = 0.33 with 25 steps). The lab default, chosen on validation items.
        guidance: a `Guidance`, a CFG scale (float), a dict of Guidance fields, or None (no CFG).
        codebook: the discrete-history `Codebook` (or a path to one) used when the schedule has +D.
        condition: (prompt, start latent or None) -> cond; default `model.text_encoder().condition`.
        unconditional: builds the unconditional branch's inputs for CFG (default `empty_prompt`;
            `fully_noised_history` for history guidance).
        missing: how absent context frames are handled ("zeros" or "drop"; see section_plan).
        endpoints: planned endpoint sections for the anti-drifting orders; for multiple_endpoints
            the default splits the video evenly among the prompts (prompt segments separated by "|").
        frame_size: (H, W) of frames when the request has no image to take it from.
        fps: nominal frame rate of the output.
        name: the table row name; default the schedule's notation (plus the order if it differs
            from the schedule's form).
        attention: passed to the model as `attention=` when given ("full", "causal",
            "block_causal"; `PackedDiT` supports them).
        kv_cache: give the model a fresh `framepack.attention.KVCache` per section and branch, so
            the clean context is computed once per section instead of once per step (needs a model
            whose context does not attend to the noisy tokens).
        section_cache: give a model whose call takes `section_cache` (`PackedDiT`) a fresh
            `framepack.section_cache.SectionCache` per section and branch, so the work that only
            depends on the section's context, conditioning and motion is done at its first step
            (same frames, bit for bit; False recomputes it at every step, the reference path).
    """

    def __init__(
        self,
        model: VelocityModel,
        codec: LatentCodec,
        schedule: Schedule | str,
        order: str | None = None,
        steps: int = 25,
        solver: str = "euler",
        shift: float = 12.0,
        guidance: Guidance | float | Mapping[str, float] | None = None,
        codebook: Codebook | str | Path | None = None,
        condition: Conditioner | None = None,
        unconditional: UnconditionalBranch | None = None,
        missing: str = "zeros",
        endpoints: Sequence[int] | None = None,
        frame_size: tuple[int, int] = (64, 64),
        fps: int = 16,
        name: str | None = None,
        attention: str | None = None,
        kv_cache: bool = False,
        section_cache: bool = True,
    ) -> None:
        self.schedule = Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        self.order = order if order is not None else self.schedule.form
        if self.order not in ORDERS:
            raise ValueError(
                f"sampling order {self.order!r} is not one of {ORDERS}"
                + (" (the schedule's form is 'custom': pass order=)" if order is None else "")
            )
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; expected one of {SOLVERS}")
        if missing not in MISSING_MODES:
            raise ValueError(f"unknown missing-frame mode {missing!r}; expected one of {MISSING_MODES}")
        self.model = model
        self.codec = codec
        self.steps = steps
        self.solver = solver
        self.shift = float(shift)
        self.guidance = _as_guidance(guidance)
        if isinstance(codebook, str | Path):
            codebook = Codebook.load(codebook)
        if self.schedule.discrete_history and codebook is None:
            raise ValueError(f"schedule {self.schedule} has discrete history (+D) and needs a codebook, got None")
        self.codebook = codebook
        self.condition = condition if condition is not None else _default_conditioner(model)
        self.unconditional = unconditional if unconditional is not None else empty_prompt
        self.missing = missing
        self.endpoints = tuple(endpoints) if endpoints is not None else None
        self.frame_size = frame_size
        self.fps = fps
        default_name = str(self.schedule)
        if self.order != self.schedule.form:
            default_name += f" ({self.order})"
        self.name = name if name is not None else default_name
        self.attention = attention
        self.kv_cache = kv_cache
        self.section_cache = section_cache and _takes_argument(model, "section_cache")
        self.peak_buffer_frames = 0  # the largest history buffer of the last generate() call

    # -- planning ----------------------------------------------------------------------------------

    def prompts_for(self, request: GenerationRequest) -> list[str]:
        """The per-segment prompts: split on "|" for multiple endpoints, else the whole prompt."""
        if self.order != "multiple_endpoints":
            return [request.prompt]
        return [part.strip() for part in request.prompt.split(PROMPT_SEPARATOR)]

    def plan(self, request: GenerationRequest) -> list[SectionPlan]:
        """The section plans `generate` follows for `request`."""
        endpoints = self.endpoints
        if self.order == "multiple_endpoints" and endpoints is None:
            prompts = self.prompts_for(request)
            if len(prompts) > request.num_sections:
                raise ValueError(
                    f"{len(prompts)} prompt segments need at least as many sections, got num_sections={request.num_sections}"
                )
            endpoints = default_endpoints(request.num_sections, len(prompts))
        return plan_sections(
            self.schedule,
            request.num_sections,
            self.order,
            has_start=request.start_image is not None,
            has_end=request.end_image is not None,
            missing=self.missing,
            endpoints=endpoints,
        )

    # -- generation --------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate `request`, handing each section's frames to `sink` as soon as they exist
        (inverted orders deliver them out of time order), then close the sink."""
        plans = self.plan(request)
        device = _device_of(self.model)
        buffer: dict[int, torch.Tensor] = {}  # frame index -> (1, C, h, w) latent
        start_latent = None
        if request.start_image is not None:
            start_latent = self._encode(request.start_image, device)
            buffer[0] = start_latent
            sink.put(0, request.start_image[None])  # the user's frame, exactly
        if request.end_image is not None:
            buffer[_end_index(plans, request)] = self._encode(request.end_image, device)
        latent_shape = self._latent_shape(request, start_latent, device)
        conds = [self.condition(prompt, start_latent) for prompt in self.prompts_for(request)]
        last = last_uses(plans)
        grid = time_grid(self.steps, self.shift)
        self.peak_buffer_frames = len(buffer)

        for index, plan in enumerate(plans):
            context = self._context(plan, buffer, latent_shape, device)
            inputs = SectionInputs(conds[plan.prompt_index], context)
            generator = torch.Generator().manual_seed(section_seed(request.seed, plan.section))
            frames = len(plan.generated)
            noise = torch.randn((1, latent_shape[0], frames, *latent_shape[1:]), generator=generator).to(device)
            positions = torch.tensor(plan.generated_positions, dtype=torch.long, device=device)
            motion = None
            if isinstance(self.model, SectionMotionModel):
                motion = self.model.draw_motion(noise.shape, positions, context, inputs.cond, generator)
            cond_fn = self._velocity_fn(inputs, positions, motion, request.cost)
            uncond_fn = None
            if self.guidance is not None and self.guidance.uses_unconditional:
                uncond_fn = self._velocity_fn(self.unconditional(inputs, generator), positions, motion, request.cost)

            def on_step(step: int, total: int, x: torch.Tensor, section: int = plan.section) -> None:
                request.report(ProgressEvent("step", step + 1, total, section))

            latents = sample(cond_fn, noise, grid, self.solver, self.guidance, uncond_fn, on_step)

            for slot, frame in enumerate(plan.generated):
                if last.get(frame, -1) > index:
                    buffer[frame] = latents[:, :, slot].clone()
            for frame in [f for f in buffer if last.get(f, -1) <= index]:
                del buffer[frame]
            self.peak_buffer_frames = max(self.peak_buffer_frames, len(buffer))

            decode_started = time.perf_counter()
            decoded = self.codec.decode(latents)
            if request.cost is not None:
                request.cost.decode_seconds += time.perf_counter() - decode_started
            if decoded.ndim != 5 or decoded.shape[2] != frames:
                raise ValueError(
                    f"codec.decode must give one frame per latent frame: {frames} latents gave shape {tuple(decoded.shape)}"
                )
            sink.put(plan.generated[0], unit_to_frames(decoded))
            request.report(ProgressEvent("section", index + 1, len(plans), plan.section))
        sink.close()

    # -- helpers -----------------------------------------------------------------------------------

    def _encode(self, image: np.ndarray, device: torch.device) -> torch.Tensor:
        latents = self.codec.encode(frames_to_unit(image).to(device))
        if latents.ndim != 5 or latents.shape[2] != 1:
            raise ValueError(f"codec.encode must give (1, C, 1, h, w) for one frame, got {tuple(latents.shape)}")
        return latents[:, :, 0]

    def _latent_shape(self, request: GenerationRequest, start: torch.Tensor | None, device: torch.device) -> tuple[int, int, int]:
        if start is not None:
            return tuple(start.shape[1:])  # type: ignore[return-value]
        if request.end_image is not None:
            return tuple(self._encode(request.end_image, device).shape[1:])  # type: ignore[return-value]
        blank = np.zeros((*self.frame_size, 3), dtype=np.uint8)
        return tuple(self._encode(blank, device).shape[1:])  # type: ignore[return-value]

    def _context(
        self, plan: SectionPlan, buffer: dict[int, torch.Tensor], latent_shape: tuple[int, int, int], device: torch.device
    ) -> list[PackedGroup]:
        groups = []
        zeros = torch.zeros((1, *latent_shape), device=device)
        for piece in plan.context:
            frames = [zeros if f is None else buffer[f] for f in piece.frames]
            latents = torch.stack(frames, dim=2)
            if self.schedule.discrete_history and piece.role in ("history", "tail"):
                latents = self.codebook.quantize(latents)  # type: ignore[union-attr]
            positions = torch.tensor(piece.positions, dtype=torch.long, device=device)
            groups.append(PackedGroup(latents, positions, piece.kernel, tail_mode=piece.tail_mode))
        return groups

    def _velocity_fn(self, inputs: SectionInputs, positions: torch.Tensor, motion: Any = None,
                     cost: GenerationCost | None = None):
        options: dict[str, Any] = {}
        if motion is not None:
            options["motion"] = motion
        if self.attention is not None:
            options["attention"] = self.attention
        if self.kv_cache:
            from framepack.attention import KVCache  # only PackedDiT-like models take one

            options["kv_cache"] = KVCache()
        if self.section_cache:
            options["section_cache"] = SectionCache()

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            timesteps = t.to(x.dtype).expand(x.shape[0], x.shape[2]).to(x.device)
            if cost is not None:
                cost.network_evaluations += 1
            return self.model(x, positions, timesteps, inputs.context, inputs.cond, **options)

        return velocity


def _end_index(plans: Sequence[SectionPlan], request: GenerationRequest) -> int:
    """The end image's index: just after the video's last frame (see section_plan.Timeline)."""
    return max(frame for plan in plans for frame in plan.generated) + 1


def _as_guidance(guidance: Guidance | float | Mapping[str, float] | None) -> Guidance | None:
    if guidance is None or isinstance(guidance, Guidance):
        return guidance
    if isinstance(guidance, int | float):
        return Guidance(scale=float(guidance))
    if isinstance(guidance, Mapping):
        return Guidance(**guidance)
    raise TypeError(f"guidance must be a Guidance, a number or a mapping of Guidance fields, got {guidance!r}")


def _default_conditioner(model: Any) -> Conditioner:
    text_encoder = getattr(model, "text_encoder", None)
    if text_encoder is None:
        raise TypeError(
            f"{type(model).__name__} has no text_encoder(); pass condition=(prompt, start latent) -> cond"
        )
    encoder = text_encoder()

    def condition(prompt: str, image_latent: torch.Tensor | None) -> Any:
        return encoder.condition(prompt, image_latent)

    return condition


def _takes_argument(model: Any, name: str) -> bool:
    """Whether calling `model` accepts keyword `name` (named, or through **kwargs)."""
    try:
        parameters = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _device_of(model: Any) -> torch.device:
    parameters = getattr(model, "parameters", None)
    if parameters is not None:
        for parameter in parameters():
            return parameter.device
    return torch.device("cpu")
