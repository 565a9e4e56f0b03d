"""One video from a lab FramePack checkpoint, streamed to an mp4 (what `fpbench generate` runs)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_text
from bench.video_io import Mp4Sink

DEFAULT_CODEC = "results/checkpoints/codec.safetensors"


@dataclass(frozen=True)
class GeneratedVideo:
    """What `generate_video` wrote: the mp4, its frame count, and the prompt sidecar (None when the
    prompt was empty)."""

    path: Path
    frames: int
    prompt_file: Path | None


def check_checkpoint(path: str | Path, option: str = "--checkpoint") -> Path:
    """`path` as a Path if it is a readable safetensors file; otherwise a FileNotFoundError (naming
    close matches in its folder) or a ValueError (not a safetensors file), before any work."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        siblings = sorted(p.name for p in path.parent.glob("*.safetensors")) if path.parent.is_dir() else []
        close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(str(path.parent / name) for name in close)}?" if close else (
            "; the committed lab checkpoints are in results/checkpoints/, and `fpbench train CONFIG` makes new ones")
        raise FileNotFoundError(f"{option} {path}: no such checkpoint file{hint}")
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{option} {path} is not a safetensors checkpoint ({error}); expected a .safetensors "
                         "file written by `fpbench train` (e.g. results/checkpoints/fp_inverted.safetensors)") from None
    return path


def checkpoint_sidecar(checkpoint: str | Path) -> dict:
    """The `<checkpoint>.json` written by the fine-tune recipe ({} when there is none)."""
    path = Path(checkpoint).with_suffix(".json")
    if not path.is_file():
        return {}
    with open(path) as handle:
        return json.load(handle)


def load_start_image(path: str | Path, size: int = 64) -> np.ndarray:
    """An image file as uint8 (size, size, 3) RGB (resized with area averaging if needed)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"start image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read {path} as an image (expected PNG or JPEG)")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, dtype=np.uint8)


def sampler_options(steps: int | None, solver: str | None, shift: float | None) -> dict:
    """The sampler settings that were given (None keeps the generator's default)."""
    given = {"steps": steps, "solver": solver, "shift": shift}
    return {name: value for name, value in given.items() if value is not None}


def build_generator(checkpoint: str | Path, codec: str | None = None, schedule: str | None = None,
                    order: str | None = None, steps: int | None = None, fps: int = 16, *,
                    solver: str | None = None, shift: float | None = None):
    """A `FramePackGenerator` for a lab checkpoint; schedule/order/codec/codebook from its sidecar
    unless given; `steps`, `solver` and `shift` default to the generator's (25, Euler, 12)."""
    from framepack.framepack_generator import FramePackGenerator
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT

    check_checkpoint(checkpoint)
    sidecar = checkpoint_sidecar(checkpoint)
    if sidecar.get("baseline") and schedule is None and order is None:
        # a baseline checkpoint samples with its own mechanism (attention mask, history noise, ...)
        from baselines.registry import BASELINE_FACTORIES

        options = sampler_options(steps, solver, shift)
        if "frames_per_section" in sidecar:
            options["frames_per_section"] = sidecar["frames_per_section"]
        return BASELINE_FACTORIES[sidecar["baseline"]](
            checkpoint=checkpoint, codec=codec or sidecar.get("codec") or DEFAULT_CODEC, fps=fps, **options
        )
    schedule = schedule or sidecar.get("schedule")
    if schedule is None:
        raise ValueError(f"{checkpoint} has no sidecar {Path(checkpoint).with_suffix('.json')} naming its schedule; "
                         "pass --schedule NOTATION (e.g. --schedule f1k1_x_g9_f1k1f2k2f16k4_td)")
    codec_path = check_checkpoint(codec or sidecar.get("codec") or DEFAULT_CODEC, option="codec")
    model = PackedDiT.load(checkpoint)
    model.eval()
    codec_model = LabCodec.load(codec_path)
    options = sampler_options(steps, solver, shift)
    return FramePackGenerator(
        model=model,
        codec=codec_model,
        schedule=schedule,
        order=order or sidecar.get("order"),
        codebook=sidecar.get("codebook"),
        fps=fps,
        **options,
    )


def generate_video(
    checkpoint: str,
    out: str,
    image: str | None = None,
    prompt: str | None = None,
    test_item: int | None = None,
    image_prompt: str | None = None,
    sections: int = 2,
    seed: int = 0,
    lossless: str | None = None,
    codec: str | None = None,
    schedule: str | None = None,
    order: str | None = None,
    steps: int | None = None,
    fps: int = 16,
    show_progress: bool = True,
    solver: str | None = None,
    shift: float | None = None,
    console=None,
) -> GeneratedVideo:
    """Generate one video and write it to `out` (.mp4), its prompt to `out` with suffix .txt (the
    sidecar `fpbench metrics` reads; not written for an empty prompt).

    Exactly one of `image` (a start image file, image-to-video), `prompt` (text-to-video) or
    `test_item` (an index into the i2v test split: its start frame and prompt) is used. `console`:
    the rich Console the progress bars draw on (default: stdout).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from framepack.generator import GenerationRequest

    given = [name for name, value in (("image", image), ("prompt", prompt), ("test_item", test_item)) if value is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of --image, --prompt, --test-item (got {given or 'none'})")
    if sections < 1:
        raise ValueError(f"--sections must be >= 1, got {sections}")
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed}; any of 0, 1, 2, ... gives a "
                         "different, reproducible video")
    if steps is not None and steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps} (default 25)")
    if shift is not None and not shift > 0:
        raise ValueError(f"--shift must be > 0, got {shift} (default 12)")
    if fps < 1:
        raise ValueError(f"--fps must be >= 1, got {fps} (default 16)")
    if not str(out).endswith(".mp4"):
        raise ValueError(f"--out must be an .mp4 file, got {out}")
    start = None
    if image is not None:
        start, text = load_start_image(image), image_prompt or ""
    elif test_item is not None:
        from bench.world import test_split

        items = test_split("i2v")
        if not 0 <= test_item < len(items):
            raise ValueError(f"--test-item must be in [0, {len(items)}), got {test_item}")
        start, text = items[test_item].start_frame, items[test_item].prompt
    else:
        text = prompt
    generator = build_generator(checkpoint, codec, schedule, order, steps, fps, solver=solver, shift=shift)

    # transient: the bars go when the video is written, so no stale "section 0 steps" line stays behind;
    # not drawn at all where nothing can erase them (a log file, a pipe)
    console = console or Console()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not show_progress or not console.is_terminal, transient=True, console=console) as progress:
        sections_task = progress.add_task(f"{generator.name}: sections", total=sections)
        steps_task = progress.add_task("  steps", total=generator.steps)

        def on_progress(event) -> None:
            if event.kind == "section":
                progress.update(sections_task, completed=event.done)
                progress.reset(steps_task)
            elif event.kind == "step":
                progress.update(steps_task, completed=event.done, total=event.total,
                                description=f"  section {event.section} steps")

        request = GenerationRequest(prompt=text, start_image=start, num_sections=sections, seed=seed,
                                    on_progress=on_progress)
        sink = Mp4Sink(out, fps=fps, lossless_path=lossless)
        generator.generate(request, sink)
    prompt_file = Path(out).with_suffix(".txt")
    if text:
        atomic_write_text(prompt_file, text + "\n")
    else:  # a sidecar left by an earlier video at this path would name the wrong prompt
        prompt_file.unlink(missing_ok=True)
        prompt_file = None
    return GeneratedVideo(path=Path(out), frames=sink.frames_written, prompt_file=prompt_file)
