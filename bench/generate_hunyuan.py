"""One full-scale video from a local weights folder, streamed to an mp4: the released FramePack model
(`fpbench generate --backend hunyuan --weights DIR`) or SkyReels-V2 diffusion forcing
(`--backend skyreels-df`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.video_io import Mp4Sink


def load_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 (H, W, 3) RGB at its own size (the generator resizes it)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read {path} as an image (expected PNG or JPEG)")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def generate_hunyuan_video(
    weights: str,
    out: str,
    image: str,
    prompt: str = "",
    end_image: str | None = None,
    sections: int = 2,
    seed: int = 0,
    lossless: str | None = None,
    fps: int | None = None,
    show_progress: bool = True,
    **options,
) -> Path:
    """Generate one image-to-video clip with the released FramePack model and write it to `out`.

    Args:
        weights: local folder in diffusers' layout (see `framepack.hunyuan.weights`).
        out: the .mp4 to write.
        image: start image file. end_image: optional end image file (inverted order only).
        prompt: the text prompt.
        sections: sections of 4·window pixel frames each (the video has 4·window·sections + 1).
        seed: noise seed.
        lossless: also write the frames losslessly to this .npz.
        fps: frame rate of the mp4 (default: the model's, 30).
        **options: `framepack.hunyuan.generator.HunyuanOptions` fields (order, height, width,
            steps, offload, vae_tiling, device, dtype, cache, ...).
    """
    from framepack.hunyuan.generator import load_hunyuan_generator
    from framepack.hunyuan.weights import check_weights_folder

    _check_output(out, sections)
    check_weights_folder(weights, options.get("order") or "inverted_anti_drifting")  # name missing files first
    start = load_image(image)
    end = load_image(end_image) if end_image is not None else None
    generator = load_hunyuan_generator(weights, **{k: v for k, v in options.items() if v is not None})
    return stream_video(generator, out, prompt, start, end, sections, seed, lossless, fps, show_progress)


def generate_skyreels_video(
    weights: str,
    out: str,
    image: str | None = None,
    prompt: str = "",
    end_image: str | None = None,
    sections: int = 2,
    seed: int = 0,
    lossless: str | None = None,
    fps: int | None = None,
    show_progress: bool = True,
    **options,
) -> Path:
    """Generate one SkyReels-V2 diffusion-forcing video (image-to-video with `image`, text-to-video
    without) and write it to `out`; **options are `baselines.skyreels_df.SkyReelsOptions` fields."""
    from baselines.skyreels_df import SkyReelsOptions, check_skyreels_folder, load_skyreels_df

    _check_output(out, sections)
    options = {k: v for k, v in options.items() if v is not None}
    check_skyreels_folder(weights, SkyReelsOptions(**options).repository)  # name missing files first
    start = load_image(image) if image is not None else None
    end = load_image(end_image) if end_image is not None else None
    generator = load_skyreels_df(weights, **options)
    return stream_video(generator, out, prompt, start, end, sections, seed, lossless, fps, show_progress)


def _check_output(out: str, sections: int) -> None:
    if not str(out).endswith(".mp4"):
        raise ValueError(f"--out must be an .mp4 file, got {out}")
    if sections < 1:
        raise ValueError(f"--sections must be >= 1, got {sections}")


def stream_video(generator, out: str, prompt: str, start: np.ndarray | None, end: np.ndarray | None,
                 sections: int, seed: int, lossless: str | None, fps: int | None, show_progress: bool) -> Path:
    """Run a loaded full-scale generator with a progress bar, streaming its frames to the mp4 `out`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from framepack.generator import GenerationRequest

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not show_progress) as progress:
        sections_task = progress.add_task(f"{generator.name}: sections", total=sections)
        steps_task = progress.add_task("  steps", total=generator.options.steps)

        def on_progress(event) -> None:
            if event.kind == "section":
                progress.update(sections_task, completed=event.done)
                progress.reset(steps_task)
            else:
                progress.update(steps_task, completed=event.done, total=event.total)

        request = GenerationRequest(prompt=prompt, start_image=start, end_image=end, num_sections=sections,
                                    seed=seed, on_progress=on_progress)
        generator.generate(request, Mp4Sink(out, fps=fps or generator.fps, lossless_path=lossless))
    return Path(out)
