"""Repeated image-to-video: a long video as a chain of image-to-video runs, each started from the last
frame the previous run produced.

`RepeatedImageToVideo` is the chain over any one-section image-to-video `Generator`: at lab scale a
`FramePackGenerator` whose whole context is the run's start image (`td_f1k1_g9`, the image also
given as the image conditioning), at full scale diffusers' HunyuanVideo image-to-video pipeline
(`baselines.repeated_i2v_diffusers`). Each run sees nothing but its start image and the prompt:
whatever happened before that frame is forgotten, which is the baseline's defining weakness.
"""

from __future__ import annotations

from baselines.backbone import BaselineBackbone
from baselines.sliding_window import DEFAULT_SECTION_FRAMES, single_image_schedule
from framepack.framepack_generator import FramePackGenerator, section_seed
from framepack.generator import FrameSink, GenerationRequest, Generator, MemorySink, ProgressEvent

NAME = "repeated_i2v"


class RepeatedImageToVideo:
    """Chains one-section runs of an image-to-video generator.

    Run k (k = 0 … num_sections − 1) generates one section from an image: run 0 from the request's
    start image (or from nothing, for text-to-video, if the single generator allows it), run k > 0
    from the last frame of run k − 1. Frame 0 of every run after the first is that image itself and
    is not repeated in the video.

    Args:
        single: a `Generator` that makes ONE section (request.num_sections = 1) and hands the start
            image back as its frame 0 when given one.
        name: row name in tables.
        fps: nominal frame rate (default: the single generator's).
    """

    def __init__(self, single: Generator, name: str = NAME, fps: int | None = None) -> None:
        self.single = single
        self.name = name
        self.fps = fps if fps is not None else single.fps
        self.steps = getattr(single, "steps", None)  # sampler steps per run, for progress displays

    def run_seed(self, seed: int, run: int) -> int:
        """The seed of run `run`: distinct per run, a pure function of (seed, run)."""
        return section_seed(seed, 1_000_003 + run)

    def generate(self, request: GenerationRequest, sink: FrameSink) -> None:
        """Generate `request.num_sections` runs, handing frames to `sink` in time order, then close it."""
        if request.end_image is not None:
            raise ValueError(f"{self.name} cannot use an end image: each run only sees its start image")
        image = request.start_image
        written = 0
        for run in range(request.num_sections):

            def forward(event: ProgressEvent, run: int = run) -> None:
                if event.kind == "step":
                    request.report(ProgressEvent("step", event.done, event.total, run))

            part = GenerationRequest(
                prompt=request.prompt,
                start_image=image,
                num_sections=1,
                seed=self.run_seed(request.seed, run),
                on_progress=forward,
                cost=request.cost,
            )
            collected = MemorySink()
            self.single.generate(part, collected)
            frames = collected.frames()
            if image is not None and run > 0:
                frames = frames[1:]  # the run's start image is the previous run's last frame
            if len(frames) == 0:
                raise ValueError(f"{self.name}: run {run} produced no new frames")
            sink.put(written, frames)
            written += len(frames)
            image = frames[-1]
            request.report(ProgressEvent("section", run + 1, request.num_sections, run))
        sink.close()


def repeated_i2v_lab(
    model,
    codec,
    frames_per_section: int = DEFAULT_SECTION_FRAMES,
    steps: int = 25,
    **sampler,
) -> RepeatedImageToVideo:
    """The lab repeated image-to-video baseline over a packed model and a lab codec.

    Args:
        model: the fine-tuned `PackedDiT` (image-to-video: one clean frame of context plus the same
            frame as image conditioning).
        codec: the lab codec.
        frames_per_section: latent frames per run.
        steps: sampler steps per run.
        **sampler: further `FramePackGenerator` options (solver, shift, guidance, fps).
    """
    single = FramePackGenerator(
        BaselineBackbone(model),
        codec,
        single_image_schedule(frames_per_section),
        order="vanilla",
        steps=steps,
        name=f"{NAME} (one run)",
        **sampler,
    )
    return RepeatedImageToVideo(single)
