"""The lab quality bar, read by the lab perceptor, and the real-vs-generated figure.

    python -m bench.train.evaluate                 # every reference row (FramePack and baselines)
    python -m bench.train.evaluate --rows fp_inverted --items 16
    # rows in parallel processes, then one merge into the report and the figure:
    python -m bench.train.evaluate --rows fp_inverted --parts runs/quality &  ...
    python -m bench.train.evaluate --merge runs/quality

For each FramePack checkpoint, on the i2v test items, the first generated section (the section
right after the start frame; a one-section video, so every order sees the start frame next to it):

- presence: share of generated frames where the perceptor sees the subject (target ≥ 90 %);
- kept: share of generated frames whose shape / colour / identity class equal the start frame's
  (target ≥ 90 % each);
- continuity: perceived position at frame 1 against the real continuation's true position
  (target ≤ 2 px);
- motion: perceived displacement frame 1 → last frame, generated vs real. It must move, and along
  the real clip's direction: "moves" counts an item when the subject travels more than 1 px within
  60° of the real displacement, so jitter or blur that shifts the perceived centre does not pass;
- degradation: mean perceived degradation of generated vs real frames (target within 0.1); also
  reported against the real frames passed through the codec, which already read as degraded
  (patch-PCA loses fine detail), i.e. the floor any latent model starts from.

Results: results/checkpoints/quality_report.json; figures results/figures/lab_samples.png (real vs
generated frames at sections 1, 6, 12 for 8 test start frames, one block per FramePack row) and
results/figures/lab_samples_baselines.png (the same for the baselines).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json
from bench.generate import build_generator
from bench.train.codec import reconstruct
from bench.world import ITEM_SPLITS, split_items
from framepack.generator import GenerationRequest, MemorySink
from metrics.lab.perceptor import LabPerceptor

FRAMEPACK_ROWS = {name: f"results/checkpoints/{name}.safetensors" for name in (
    "fp_inverted", "fp_vanilla", "fp_vanilla_d", "fp_anti_drifting_endpoint",  # the four demo rows
    "fp_inverted_d", "fp_vanilla_g4", "fp_vanilla_g1", "fp_inverted_g4", "fp_inverted_ta", "fp_inverted_tc",
    "fp_vanilla_dup_k1", "fp_inverted_dup_k1",
)}
BASELINE_ROWS = {name: f"results/checkpoints/{name}.safetensors" for name in (
    "bl_repeated_i2v", "bl_anchor_frames", "bl_causal_attention", "bl_noisy_history_random",
    "bl_noisy_history_0.1", "bl_history_guidance",
)}
REFERENCE_ROWS = {**FRAMEPACK_ROWS, **BASELINE_ROWS}
TARGETS = {"presence": 0.9, "shape_kept": 0.9, "colour_kept": 0.9, "identity_kept": 0.9,
           "position_error_px_frame1": 2.0, "degradation_gap": 0.1}


def generate(generator, item, sections: int, seed: int = 0) -> np.ndarray:
    """All frames (start frame included) of one i2v test item, uint8 (T, 64, 64, 3)."""
    sink = MemorySink()
    generator.generate(GenerationRequest(item.prompt, item.start_frame, num_sections=sections, seed=seed), sink)
    return sink.frames()


def first_section_numbers(perceptor: LabPerceptor, generated: list[np.ndarray], real: list[np.ndarray],
                          true_positions: list[np.ndarray], real_coded: list[np.ndarray] | None = None) -> dict:
    """Quality-bar numbers over items; every video is [start frame, section frames...].

    `real_coded` (optional): the real clips passed through the latent codec, the best a latent model
    can reach; its degradation is reported beside the real clips'.
    `met` is `targets_met` of the numbers.
    """
    presence, shape, colour, identity, cosine, errors, moved_gen, moved_real, deg_gen, deg_real, along = (
        [] for _ in range(11))
    for frames, reference, truth in zip(generated, real, true_positions, strict=True):
        seen, ref = perceptor.perceive(frames), perceptor.perceive(reference)
        section = slice(1, len(frames))
        present = seen.present[section] > 0.5
        presence.append(present.mean())
        shape.append((seen.shape_probs[section].argmax(1) == seen.shape_probs[0].argmax()).mean())
        colour.append((seen.colour_probs[section].argmax(1) == seen.colour_probs[0].argmax()).mean())
        identity.append((seen.identity_probs[section].argmax(1) == seen.identity_probs[0].argmax()).mean())
        cosine.append(float((seen.identity[section] @ seen.identity[0]).mean()))
        errors.append(float(np.linalg.norm(seen.position[1] - truth[1])))
        moved_gen.append(float(np.linalg.norm(seen.position[-1] - seen.position[1])))
        moved_real.append(float(np.linalg.norm(ref.position[-1] - ref.position[1])))
        along.append(direction_cosine(seen.position[-1] - seen.position[1], ref.position[-1] - ref.position[1]))
        deg_gen.append(float(seen.degradation[section].mean()))
        deg_real.append(float(ref.degradation[section].mean()))
    errors_a = np.array(errors)
    result = {
        "items": len(generated),
        "presence": float(np.mean(presence)),
        "shape_kept": float(np.mean(shape)),
        "colour_kept": float(np.mean(colour)),
        "identity_kept": float(np.mean(identity)),
        "identity_cosine_to_start": float(np.mean(cosine)),
        "position_error_px_frame1": float(np.median(errors_a)),
        "position_error_px_frame1_mean": float(errors_a.mean()),
        "position_within_2px_share": float((errors_a <= 2).mean()),
        **motion_summary(moved_gen, moved_real, along),
        "degradation_generated": float(np.mean(deg_gen)),
        "degradation_real": float(np.mean(deg_real)),
    }
    result["degradation_gap"] = abs(result["degradation_generated"] - result["degradation_real"])
    if real_coded is not None:
        coded = [float(perceptor.perceive(video).degradation[1:].mean()) for video in real_coded]
        result["degradation_real_through_codec"] = float(np.mean(coded))
        result["degradation_gap_vs_codec"] = abs(result["degradation_generated"] - float(np.mean(coded)))
    result["met"] = targets_met(result)
    return result


def targets_met(numbers: dict) -> dict[str, bool | None]:
    """Which quality-bar targets `numbers` (from `first_section_numbers`) meet. "moves" is None
    when no real section moves more than 1 px (nothing to continue: the target does not apply)."""
    moves = None
    if numbers["moving_share_real"] > 0:
        moves = numbers["moving_along_share_generated"] >= 0.5 * numbers["moving_share_real"]
    return {
        "presence": numbers["presence"] >= TARGETS["presence"],
        "shape_kept": numbers["shape_kept"] >= TARGETS["shape_kept"],
        "colour_kept": numbers["colour_kept"] >= TARGETS["colour_kept"],
        "identity_kept": numbers["identity_kept"] >= TARGETS["identity_kept"],
        "position_error_px_frame1": numbers["position_error_px_frame1"] <= TARGETS["position_error_px_frame1"],
        "moves": moves,
        "degradation_gap": numbers["degradation_gap"] <= TARGETS["degradation_gap"],
    }


def direction_cosine(generated: np.ndarray, real: np.ndarray) -> float:
    """Cosine between two displacements (0 when either is shorter than 0.1 px: no direction)."""
    length_generated, length_real = float(np.linalg.norm(generated)), float(np.linalg.norm(real))
    if min(length_generated, length_real) < 0.1:
        return 0.0
    return float(generated @ real) / (length_generated * length_real)


def motion_summary(moved_generated: list[float], moved_real: list[float], cosines: list[float]) -> dict[str, float]:
    """Mean displacements, the shares moving more than 1 px, and the generated share moving more
    than 1 px within 60° of the real direction (cosine ≥ 0.5)."""
    generated, real, cosine = np.array(moved_generated), np.array(moved_real), np.array(cosines)
    return {
        "displacement_px_generated": float(generated.mean()),
        "displacement_px_real": float(real.mean()),
        "moving_share_generated": float((generated > 1.0).mean()),
        "moving_share_real": float((real > 1.0).mean()),
        "moving_along_share_generated": float(((generated > 1.0) & (cosine >= 0.5)).mean()),
        "direction_cosine_generated": float(cosine.mean()),
    }


def evaluate_rows(rows: dict[str, str], items: int = 64, steps: int | None = None, figure_items: int = 8,
                  figure_sections: int = 12, out: str = "results/checkpoints/quality_report.json",
                  figure: str | None = "results/figures/lab_samples.png", show_progress: bool = True,
                  parts: str | None = None, split: str = "test", schedule: str | None = None,
                  codec: str | None = None, solver: str | None = None, shift: float | None = None) -> dict:
    """Quality-bar numbers for every row (name → checkpoint) and the samples figure.

    `split` "test" reads the fixed i2v test items; "validation" reads as many items from
    validation seeds (`bench.world.validation_items`), for comparing candidate models. `schedule` and
    `codec` override the checkpoints' sidecars (a base checkpoint has none: pass a schedule);
    `steps`, `solver` and `shift` the generator's sampler defaults.

    With `parts`, each row's numbers and long videos are written to that folder instead (for
    `merge_parts`), and neither the report nor the figure is written.
    """
    from rich.progress import Progress

    perceptor = LabPerceptor.load()
    test_items = split_items(split, "i2v", items)
    report: dict = {"targets": TARGETS, "split": split, "rows": {}}
    long_videos: dict[str, list[np.ndarray]] = {}
    with Progress(disable=not show_progress) as progress:
        for name, checkpoint in rows.items():
            if not Path(checkpoint).is_file():
                report["rows"][name] = {"error": f"checkpoint missing: {checkpoint}"}
                continue
            generator = build_generator(checkpoint, codec=codec, schedule=schedule, steps=steps, solver=solver,
                                        shift=shift)
            sampler = getattr(generator, "single", generator)  # repeated I2V wraps one FramePack generator
            sections_frames = sampler.schedule.frames_per_section
            task = progress.add_task(f"{name}: first sections", total=len(test_items))
            started = time.time()
            generated, real, truth, coded = [], [], [], []
            for item in test_items:
                frames = generate(generator, item, sections=1)
                reference = item.reference_clip(len(frames))
                generated.append(frames)
                real.append(reference.frames)
                coded.append(reconstruct(sampler.codec, reference.frames))
                truth.append(np.array([[s.x, s.y] for s in reference.states]))
                progress.advance(task)
            numbers = first_section_numbers(perceptor, generated, real, truth, coded)
            numbers.update(checkpoint=checkpoint, schedule=str(sampler.schedule), order=sampler.order,
                           steps=sampler.steps, solver=sampler.solver, shift=sampler.shift, frames_per_section=sections_frames,
                           seconds=time.time() - started)
            report["rows"][name] = numbers
            if figure:
                task = progress.add_task(f"{name}: {figure_sections}-section samples", total=figure_items)
                long_videos[name] = []
                for item in test_items[:figure_items]:
                    long_videos[name].append(generate(generator, item, sections=figure_sections))
                    progress.advance(task)
    if parts is not None:
        Path(parts).mkdir(parents=True, exist_ok=True)
        for name, numbers in report["rows"].items():
            atomic_write_json(Path(parts) / f"{name}.json", numbers)
            if name in long_videos:
                np.savez_compressed(Path(parts) / f"{name}_videos.npz",
                                    **{f"{i:03d}": video for i, video in enumerate(long_videos[name])})
        return report
    if figure and long_videos:
        sample_figures(long_videos, test_items[:figure_items], figure_sections, figure)
    atomic_write_json(out, report)
    return report


def sample_figures(videos: dict[str, list[np.ndarray]], items, sections: int, path: str) -> None:
    """FramePack rows (and other checkpoints) into `path`; baseline rows into `<path>_baselines`."""
    baselines = {name: v for name, v in videos.items() if name in BASELINE_ROWS}
    others = {name: v for name, v in videos.items() if name not in BASELINE_ROWS}
    if others:
        sample_figure(others, items, sections, path)
    if baselines:
        sample_figure(baselines, items, sections, str(Path(path).with_name(Path(path).stem + "_baselines.png")))


def sample_figure(videos: dict[str, list[np.ndarray]], items, sections: int, path: str) -> None:
    """Real vs generated frames at the last frame of sections 1, 6 and 12, per row and start frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [s for s in (1, 6, 12) if s <= sections]
    names = list(videos)
    columns = 1 + 2 * len(picks)
    rows = len(items) * len(names)
    height = rows * 0.9 + 0.6
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, height), squeeze=False)
    for r_name, name in enumerate(names):
        for r_item, (item, video) in enumerate(zip(items, videos[name], strict=True)):
            row = r_name * len(items) + r_item
            real = item.reference_clip(len(video)).frames
            panels = [("start", item.start_frame)]
            for s in picks:
                index = s * ((len(video) - 1) // sections)  # rows differ in frames per section (g1/g4/g9)
                panels += [(f"real s{s}", real[index]), (f"gen s{s}", video[index])]
            for col, (label, image) in enumerate(panels):
                ax = axes[row, col]
                ax.imshow(image)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(label, fontsize=6)
            axes[row, 0].set_ylabel(f"{name}\n#{item.index}" if r_item == 0 else f"#{item.index}", fontsize=5)
    fig.suptitle("lab samples: real vs generated (last frame of sections 1, 6, 12)", fontsize=8,
                 y=1 - 0.2 / height)  # a fraction of a tall figure: place it in inches from the top
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))  # keep the title clear of the first row's labels
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = str(Path(path).with_name(Path(path).stem + ".tmp.png"))
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=list(REFERENCE_ROWS), help="row names (fp_*) or checkpoint paths")
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the generator's)")
    parser.add_argument("--solver", choices=("euler", "dpmpp_2m"), default=None, help="solver (default: the generator's)")
    parser.add_argument("--shift", type=float, default=None, help="sampling time shift (default: the generator's)")
    parser.add_argument("--figure-items", type=int, default=8)
    parser.add_argument("--figure-sections", type=int, default=12)
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument("--schedule", default=None,
                        help="sample every row with this schedule (default: each checkpoint's sidecar; needed for a base)")
    parser.add_argument("--codec", default=None, help="lab codec (default: each checkpoint's sidecar, else the reference codec)")
    parser.add_argument("--split", choices=ITEM_SPLITS, default="test",
                        help="test items, or validation-seed items to compare candidate models (default: test)")
    parser.add_argument("--out", default=None,
                        help="report path (default: results/checkpoints/quality_report.json for the test split, "
                             "runs/quality_validation.json for validation)")
    parser.add_argument("--figure", default=None,
                        help="samples figure (default: results/figures/lab_samples.png for the test split, "
                             "runs/lab_samples_validation.png for validation)")
    parser.add_argument("--parts", default=None, help="write each row's numbers and long videos to this folder")
    parser.add_argument("--merge", default=None, help="merge the parts in this folder into --out and --figure")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = "results/checkpoints/quality_report.json" if args.split == "test" else "runs/quality_validation.json"
    if args.figure is None:
        args.figure = "results/figures/lab_samples.png" if args.split == "test" else "runs/lab_samples_validation.png"
    if args.merge:
        report = merge_parts(args.merge, args.out, None if args.no_figure else args.figure, args.figure_items,
                             args.figure_sections, args.split)
        print(json.dumps(report, indent=2))
        return 0
    rows = {(name if name in REFERENCE_ROWS else Path(name).stem): REFERENCE_ROWS.get(name, name) for name in args.rows}
    import torch

    torch.set_num_threads(int(os.environ.get("FPBENCH_THREADS", "1")))
    report = evaluate_rows(rows, args.items, args.steps, args.figure_items, args.figure_sections, args.out,
                           None if args.no_figure else args.figure, parts=args.parts, split=args.split,
                           schedule=args.schedule, codec=args.codec, solver=args.solver, shift=args.shift)
    print(json.dumps(report, indent=2))
    return 0


def merge_parts(folder: str, out: str, figure: str | None, figure_items: int, figure_sections: int,
                split: str = "test") -> dict:
    """Combine the per-row parts written with `--parts` (on `split`) into the report and the figure."""
    report: dict = {"targets": TARGETS, "split": split, "rows": {}}
    videos: dict[str, list[np.ndarray]] = {}
    for name in REFERENCE_ROWS:
        part = Path(folder) / f"{name}.json"
        if not part.is_file():
            report["rows"][name] = {"error": f"no evaluation part {part}"}
            continue
        numbers = json.loads(part.read_text())
        if "items" in numbers:
            numbers["met"] = targets_met(numbers)  # the current rules, also for parts written before a change
        report["rows"][name] = numbers
        stored = Path(folder) / f"{name}_videos.npz"
        if stored.is_file():
            with np.load(stored) as data:
                videos[name] = [data[key] for key in sorted(data.files)]
    if figure and videos:
        items = split_items(split, "i2v", figure_items)
        sample_figures({k: v[:figure_items] for k, v in videos.items()}, items, figure_sections, figure)
    atomic_write_json(out, report)
    return report




if __name__ == "__main__":
    raise SystemExit(main())
