"""Long-video quality curves: how each lab row holds up section by section over 12 sections.

    python -m bench.benchmarks.long_quality                     # every committed fp_* / bl_* row
    python -m bench.benchmarks.long_quality --rows fp_vanilla fp_inverted --items 4

The first-section quality bar (bench/train/evaluate.py) reads only the section after the start
frame. Here every committed lab checkpoint (results/checkpoints/fp_*.safetensors and
bl_*.safetensors) generates 12-section image-to-video videos of VALIDATION items (never the test
split) with the lab sampler's defaults, and the lab perceptor reads each section:

- identity kept / shape kept: share of the section's frames whose identity / shape class equals
  the start frame's (the quality bar's "kept", per section);
- degradation: mean perceived degradation (0 = clean render);
- subject motion: the subject's net perceived displacement over the section, per frame (px/frame),
  from the last frame before the section to its last frame; plus presence.

The world's own continuation of each item (the real clip) is read the same way, so every curve has
its real counterpart. Each row also records its sampling order and, per section, the iteration at
which the sampler generated it (the inverted order generates the sections next to the start frame
last, bridging the start frame and an already generated future).

Generated videos are kept under runs/long_quality/ (one .npz per row, reused when present: the run
is resumable); the report goes to results/bench/long_quality.json and the figure to
results/bench/long_quality.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json

CHECKPOINTS = Path("results/checkpoints")
VIDEOS = Path("runs/long_quality")
OUT = Path("results/bench/long_quality.json")
FIGURE = Path("results/bench/long_quality.png")
SECTIONS = 12
CURVES = ("identity_kept", "shape_kept", "degradation", "motion_px_per_frame", "presence")


def committed_rows(folder: Path = CHECKPOINTS) -> dict[str, Path]:
    """Every committed lab row: fp_* and bl_* checkpoints (codebooks are not rows)."""
    found = sorted(folder.glob("fp_*.safetensors")) + sorted(folder.glob("bl_*.safetensors"))
    return {path.stem: path for path in found if not path.stem.endswith("_codebook")}


def generate_row(checkpoint: Path, items, sections: int, seed: int = 0, progress=None) -> dict:
    """One row's long videos (start frame included) and how its sampler made them."""
    from bench.generate import build_generator
    from framepack.generator import GenerationRequest, MemorySink

    generator = build_generator(checkpoint)
    sampler = getattr(generator, "single", generator)  # repeated image-to-video wraps one FramePack sampler
    videos = []
    started = time.time()
    for item in items:
        sink = MemorySink()
        generator.generate(GenerationRequest(item.prompt, item.start_frame, num_sections=sections, seed=seed), sink)
        videos.append(sink.frames())
        if progress is not None:
            progress()
    return {"videos": videos, "order": str(getattr(generator, "order", None) or "time order (baseline)"),
            "schedule": str(getattr(sampler, "schedule", "")), "steps": int(getattr(sampler, "steps", 0)),
            "frames_per_section": int(sampler.schedule.frames_per_section),
            "generation_order": generation_order(generator, sections),
            "seconds": round(time.time() - started, 1)}


def generation_order(generator, sections: int) -> list[int] | None:
    """For each section (in time order), the sampler iteration that generated it (0 = first);
    None for generators without a section plan (baselines generate in time order)."""
    from framepack.generator import GenerationRequest

    plan = getattr(generator, "plan", None)
    if plan is None:
        return None
    start = np.zeros((64, 64, 3), np.uint8)
    plans = plan(GenerationRequest("", start, num_sections=sections))
    by_time = sorted(range(len(plans)), key=lambda i: min(plans[i].generated))
    return by_time


def load_or_generate(name: str, checkpoint: Path, items, sections: int, folder: Path, progress=None) -> dict:
    """A row's videos from `folder/<name>.npz` if they match (items, sections), else generated and stored."""
    path = folder / f"{name}.npz"
    seeds = [int(item.seed) for item in items]
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["seeds"] == seeds and meta["sections"] == sections:
                return {**meta, "videos": [data[f"v{i:03d}"] for i in range(len(items))]}
    row = generate_row(checkpoint, items, sections, progress=progress)
    meta = {k: v for k, v in row.items() if k != "videos"} | {"seeds": seeds, "sections": sections,
                                                               "checkpoint": str(checkpoint)}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{name}.tmp.npz"
    np.savez_compressed(tmp, meta=json.dumps(meta), **{f"v{i:03d}": v for i, v in enumerate(row["videos"])})
    tmp.replace(path)
    return {**meta, "videos": row["videos"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=None, help="row names (default: every fp_* / bl_* checkpoint)")
    parser.add_argument("--items", type=int, default=8, help="validation items")
    parser.add_argument("--sections", type=int, default=SECTIONS)
    parser.add_argument("--videos", default=str(VIDEOS), help="folder keeping the generated videos")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args(argv)
    import torch
    from rich.progress import Progress

    from bench.world import validation_items

    torch.set_num_threads(1)
    rows = committed_rows()
    if args.rows:
        unknown = [name for name in args.rows if name not in rows]
        if unknown:
            raise ValueError(f"unknown rows {unknown}; committed rows: {', '.join(rows)}")
        rows = {name: rows[name] for name in args.rows}
    items = validation_items("i2v", args.items)
    generated = {}
    with Progress() as progress:
        for name, checkpoint in rows.items():
            task = progress.add_task(name, total=len(items))
            generated[name] = load_or_generate(name, checkpoint, items, args.sections, Path(args.videos),
                                               lambda task=task: progress.advance(task))
            progress.update(task, completed=len(items))
    if args.generate_only:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
