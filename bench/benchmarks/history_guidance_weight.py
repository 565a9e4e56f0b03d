"""Choosing history guidance's weight w on long lab videos (a tuning sweep, not a test).

    python -m bench.benchmarks.history_guidance_weight --weights 1 1.5 2 3 --items 8 --sections 6

For each w, the history-guidance baseline checkpoint generates `items` image-to-video VALIDATION
items (never the test split, which the paper grids report in full) of `sections` sections; the lab
perceptor reads every generated frame against the start frame: identity and shape kept (shares of
frames), mean degradation, and the same numbers for the last section alone, where drift shows.
Writes results/bench/history_guidance_weight.json and .png; the paper grid's choice of w comes from it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json

CHECKPOINT = "results/checkpoints/bl_history_guidance.safetensors"
CODEC = "results/checkpoints/codec.safetensors"


def kept_numbers(perceptor, frames: np.ndarray, section_frames: int) -> dict[str, float]:
    """Identity / shape kept and degradation over all generated frames and over the last section."""
    seen = perceptor.perceive(frames)
    start_identity, start_shape = seen.identity_probs[0].argmax(), seen.shape_probs[0].argmax()
    numbers = {}
    for label, part in (("all", slice(1, None)), ("last_section", slice(len(frames) - section_frames, None))):
        numbers[f"identity_kept_{label}"] = float((seen.identity_probs[part].argmax(1) == start_identity).mean())
        numbers[f"shape_kept_{label}"] = float((seen.shape_probs[part].argmax(1) == start_shape).mean())
        numbers[f"degradation_{label}"] = float(seen.degradation[part].mean())
    return numbers


def sweep(weights: list[float], items: int = 8, sections: int = 6, checkpoint: str = CHECKPOINT,
          seed: int = 0, show_progress: bool = True) -> dict:
    from rich.progress import Progress

    from baselines.registry import BASELINE_FACTORIES
    from bench.train.evaluate import generate
    from bench.world import validation_items
    from metrics.lab.perceptor import LabPerceptor

    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"history-guidance checkpoint not found: {checkpoint} "
                                f"(train it with `fpbench train bench/train/configs/baseline_history_guidance.yaml`)")
    perceptor = LabPerceptor.load()
    sweep_items = validation_items("i2v", items)
    result: dict = {"checkpoint": checkpoint, "split": "validation", "items": [item.index for item in sweep_items], "sections": sections,
                    "seed": seed, "weights": {}}
    with Progress(disable=not show_progress) as progress:
        for weight in weights:
            generator = BASELINE_FACTORIES["history_guidance"](checkpoint=checkpoint, codec=CODEC, guidance_scale=weight)
            task = progress.add_task(f"w = {weight:g}", total=len(sweep_items))
            started, rows = time.time(), []
            for item in sweep_items:
                frames = generate(generator, item, sections, seed)
                rows.append(kept_numbers(perceptor, frames, generator.schedule.frames_per_section))
                progress.advance(task)
            summary = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
            summary["seconds"] = time.time() - started
            result["weights"][f"{weight:g}"] = summary
    return result


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = [float(w) for w in result["weights"]]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for ax, key in zip(axes, ("identity_kept", "shape_kept", "degradation"), strict=True):
        for label, style in (("all", "-o"), ("last_section", "--s")):
            ax.plot(weights, [v[f"{key}_{label}"] for v in result["weights"].values()], style, label=label)
        ax.set_xlabel("history guidance w")
        ax.set_title(key.replace("_", " "))
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{len(result['items'])} i2v items × {result['sections']} sections", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--sections", type=int, default=6)
    parser.add_argument("--checkpoint", default=CHECKPOINT)
    parser.add_argument("--out", default="results/bench/history_guidance_weight")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result = sweep(args.weights, args.items, args.sections, args.checkpoint)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), result)
    plot(result, out.with_suffix(".png"))
    print(f"{'w':>5} {'identity kept':>14} {'(last section)':>15} {'shape kept':>11} {'degradation':>12} {'(last)':>7}")
    for weight, v in result["weights"].items():
        print(f"{weight:>5} {v['identity_kept_all']:>14.3f} {v['identity_kept_last_section']:>15.3f} "
              f"{v['shape_kept_all']:>11.3f} {v['degradation_all']:>12.3f} {v['degradation_last_section']:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
