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
  from the last frame before the section to its last frame; plus presence;
- smoothness: the lab motion smoothness (metrics/lab/motion_smoothness.py) of the section's frames;
  and per video the lab Motion and Dynamic scores.

The world's own continuation of each item (the real clip) is read the same way, so every curve has
its real counterpart. Each row also records its sampling order and, per section, the iteration at
which the sampler generated it (the inverted order generates the sections next to the start frame
last, bridging the start frame and an already generated future). Curves are averaged per sampling
order over the g9 rows; the baselines (time order, their own mechanisms) form a group of their own.
The start frame repeated (the static video) is scored as a floor beside the real clips.

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


def section_curves(perceptor, video: np.ndarray, frames_per_section: int,
                   fps: float = 16.0) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-section readings of one video [start frame, section 1 frames, ...]: each curve (sections,),
    and the whole video's lab Motion and Dynamic scores.

    identity / shape kept compare each frame's class with the start frame's (the quality bar's rule);
    motion is the net perceived displacement from the frame before the section to its last frame,
    per frame; smoothness is the lab motion smoothness (metrics.lab.motion_smoothness) of the frames.
    """
    from metrics.lab.dynamic_degree import lab_dynamic_degree
    from metrics.lab.motion_smoothness import lab_motion_smoothness

    seen = perceptor.perceive(video)
    sections = (len(video) - 1) // frames_per_section
    identity = seen.identity_probs.argmax(1) == seen.identity_probs[0].argmax()
    shape = seen.shape_probs.argmax(1) == seen.shape_probs[0].argmax()
    smooth = np.ones(len(video))
    result = lab_motion_smoothness(video, seen.position, seen.present, fps)
    smooth[result.index] = result.values
    scores = {"motion_lab": result.score,
              "dynamic_lab": lab_dynamic_degree(seen.position, seen.present, *video.shape[1:3], fps).score}
    curves = {name: np.zeros(sections) for name in (*CURVES, "smoothness")}
    for s in range(sections):
        first, last = 1 + s * frames_per_section, 1 + (s + 1) * frames_per_section
        part = slice(first, last)
        curves["identity_kept"][s] = identity[part].mean()
        curves["shape_kept"][s] = shape[part].mean()
        curves["degradation"][s] = seen.degradation[part].mean()
        curves["presence"][s] = (seen.present[part] > 0.5).mean()
        curves["motion_px_per_frame"][s] = np.linalg.norm(seen.position[last - 1] - seen.position[first - 1]) / frames_per_section
        curves["smoothness"][s] = smooth[part].mean()
    return curves, scores


def mean_curves(per_video: list[tuple[dict[str, np.ndarray], dict[str, float]]]) -> dict[str, list[float]]:
    """Mean over videos of each curve, as plain lists."""
    return {name: [float(v) for v in np.mean([curves[name] for curves, _ in per_video], axis=0)]
            for name in per_video[0][0]}


def mean_scores(per_video: list[tuple[dict[str, np.ndarray], dict[str, float]]]) -> dict[str, float]:
    """Mean over videos of each whole-video score."""
    return {name: float(np.mean([scores[name] for _, scores in per_video])) for name in per_video[0][1]}


def onset(curve: list[float], level: float) -> int | None:
    """The first section (1-based) whose value is below `level`; None if none is."""
    return next((s + 1 for s, value in enumerate(curve) if value < level), None)


def long_quality_report(generated: dict[str, dict], items, sections: int) -> dict:
    """Curves per row and per real clip length, per-order means, and per-row summaries."""
    from bench.generate import checkpoint_sidecar
    from metrics.lab.perceptor import LabPerceptor

    perceptor = LabPerceptor.load()
    report: dict = {"split": "validation", "items": len(items), "item_seeds": [int(i.seed) for i in items],
                    "sections": sections, "curves": list(CURVES) + ["smoothness"], "rows": {}, "real": {}}
    real_cache: dict[int, dict] = {}
    for name, row in generated.items():
        per_video = [section_curves(perceptor, video, row["frames_per_section"]) for video in row["videos"]]
        curves = mean_curves(per_video)
        frames_per_section = row["frames_per_section"]
        if frames_per_section not in real_cache:
            real = [section_curves(perceptor, item.reference_clip(1 + sections * frames_per_section).frames,
                                   frames_per_section) for item in items]
            static = [section_curves(perceptor, np.repeat(item.start_frame[None], 1 + sections * frames_per_section, 0),
                                     frames_per_section) for item in items]
            real_cache[frames_per_section] = {"curves": mean_curves(real), "video_scores": mean_scores(real),
                                              "static_video_scores": mean_scores(static)}
        entry = {key: row[key] for key in ("checkpoint", "schedule", "order", "steps", "frames_per_section",
                                           "generation_order", "seconds") if key in row}
        entry["curves"] = curves
        entry["video_scores"] = mean_scores(per_video)
        # baselines sample in time order with their own mechanism: a group of their own, not "vanilla"
        baseline = bool(row.get("checkpoint")) and checkpoint_sidecar(row["checkpoint"]).get("baseline")
        entry["group"] = "baselines" if baseline else entry["order"]
        entry["identity_kept_first_last"] = [curves["identity_kept"][0], curves["identity_kept"][-1]]
        entry["degradation_first_last"] = [curves["degradation"][0], curves["degradation"][-1]]
        entry["identity_below_half_from_section"] = onset(curves["identity_kept"], 0.5)
        entry["mean_motion_px_per_frame"] = float(np.mean(curves["motion_px_per_frame"]))
        if row.get("generation_order"):
            # the same curves in the order the sampler generated the sections
            sections_by_step = np.argsort(row["generation_order"])
            entry["curves_by_generation_step"] = {key: [values[s] for s in sections_by_step]
                                                  for key, values in curves.items()}
        report["rows"][name] = entry
    report["real"] = {f"{frames}_frames_per_section": entry for frames, entry in sorted(real_cache.items())}
    orders: dict[str, list[str]] = {}
    for name, entry in report["rows"].items():
        if entry["frames_per_section"] == 9:  # g1/g4 rows have other section lengths: not averaged in
            orders.setdefault(entry["group"], []).append(name)
    report["by_order"] = {order: {"rows": names, "curves": {key: [float(v) for v in np.mean(
        [report["rows"][n]["curves"][key] for n in names], axis=0)] for key in report["curves"]}}
        for order, names in orders.items()}
    report["machine"] = platform.platform()
    return report


def long_quality_figure(report: dict, path: Path) -> Path:
    """One panel per curve: every g9 row (thin, coloured by order), the per-order means (thick), real clips (black)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = report["curves"]
    colours = {order: f"C{i}" for i, order in enumerate(report["by_order"])}
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4))
    sections = np.arange(1, report["sections"] + 1)
    real = report["real"].get("9_frames_per_section", {}).get("curves")
    for axis, key in zip(axes, names, strict=True):
        for entry in report["rows"].values():
            if entry["frames_per_section"] == 9:
                axis.plot(sections, entry["curves"][key], color=colours[entry["group"]], lw=0.6, alpha=0.45)
        for order, group in report["by_order"].items():
            axis.plot(sections, group["curves"][key], color=colours[order], lw=2.2, label=f"{order} (mean)")
        if real is not None:
            axis.plot(sections, real[key], color="black", lw=2.0, ls="--", label="real clips")
        axis.set_title(key.replace("_", " "), fontsize=9)
        axis.set_xlabel("section (time order)", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"long-video quality per section: {report['items']} validation items, {report['sections']} sections, "
                 "lab perceptor", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=None, help="row names (default: every fp_* / bl_* checkpoint)")
    parser.add_argument("--items", type=int, default=8, help="validation items")
    parser.add_argument("--sections", type=int, default=SECTIONS)
    parser.add_argument("--videos", default=str(VIDEOS), help="folder keeping the generated videos")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--figure", default=str(FIGURE))
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
    report = long_quality_report(generated, items, args.sections)
    print(json.dumps({name: {k: entry[k] for k in ("order", "identity_kept_first_last", "degradation_first_last",
                                                    "identity_below_half_from_section", "mean_motion_px_per_frame")}
                      for name, entry in report["rows"].items()}, indent=1))
    print(f"wrote {atomic_write_json(args.out, report)} and {long_quality_figure(report, Path(args.figure))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
