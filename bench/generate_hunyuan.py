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


def generate_full_scale_video(
    backend: str,
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
    """Generate one video with a released model from a local weights folder and write it to `out`.

    Args:
        backend: "hunyuan" (FramePack; image-to-video) or "skyreels-df" (SkyReels-V2 diffusion
            forcing; image-to-video with `image`, text-to-video without).
        weights: local folder in diffusers' layout; missing files are named before anything loads.
        out: the .mp4 to write.
        image: start image file. end_image: optional end image file.
        prompt: the text prompt.
        sections: sections of the model's section length (FramePack: 4·window frames).
        seed: noise seed.
        lossless: also write the frames losslessly to this .npz.
        fps: frame rate of the mp4 (default: the model's).
        **options: fields of `framepack.hunyuan.generator.HunyuanOptions` or
            `baselines.skyreels_df.SkyReelsOptions`; None values mean "the default".
    """
    options = {k: v for k, v in options.items() if v is not None}
    if not str(out).endswith(".mp4"):
        raise ValueError(f"--out must be an .mp4 file, got {out}")
    if sections < 1:
        raise ValueError(f"--sections must be >= 1, got {sections}")
    if backend == "hunyuan":
        from framepack.hunyuan.generator import load_hunyuan_generator
        from framepack.hunyuan.weights import check_weights_folder

        if image is None:
            raise ValueError("--backend hunyuan is image-to-video: give --image (and the text with --image-prompt)")
        check_weights_folder(weights, options.get("order", "inverted_anti_drifting"))  # name missing files first
        load = load_hunyuan_generator
    elif backend == "skyreels-df":
        from baselines.skyreels_df import SkyReelsOptions, check_skyreels_folder, load_skyreels_df

        check_skyreels_folder(weights, SkyReelsOptions(**options).repository)  # name missing files first
        load = load_skyreels_df
    else:
        raise ValueError(f"backend must be 'hunyuan' or 'skyreels-df', got {backend!r}")
    start = load_image(image) if image is not None else None
    end = load_image(end_image) if end_image is not None else None
    generator = load(weights, **options)
    return stream_video(generator, out, prompt, start, end, sections, seed, lossless, fps, show_progress)


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
