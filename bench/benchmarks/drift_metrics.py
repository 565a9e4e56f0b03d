"""Validity and speed of the drift metrics past the paper, on held-out (validation) lab clips.

    python -m bench.benchmarks.drift_metrics [--items 8] [--frames 109]

* colour drift: each clip with darkening, desaturation, contrast creep and hue rotation ramped over
  the video at strengths 0, 0.15, 0.3, 0.6; the start–end Δ and VDE of every colour curve.
  Checked: the curve that reads the effect ranks the strengths in order on every clip (share of
  clips), and the real clips (strength 0) read ≈ 0.
* image-to-video fidelity (lab): real clips vs the same clips with the subject swapped, or the
  background swapped, from the middle on; the mean per-frame fidelity over the second half.
* reference distance (lab, set-level): the true continuations of the items (real clips), the start
  frame repeated (static video) and the true continuations with a growing blur, each as one set
  against real continuations from the same start frames, with the real-vs-real floor.
* speed: milliseconds per frame of each per-frame metric and of the set-level features, one thread.

Writes results/bench/drift_metrics.json (and .md). The machine may be shared: the timings are
noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json, atomic_write_text

STRENGTHS = (0.0, 0.15, 0.3, 0.6)
TARGET = {"darken": "colour_lightness", "desaturate": "colour_chroma", "contrast_creep": "colour_contrast",
          "rotate_hue": "colour_shift"}
COLOUR_METRICS = ("colour_lightness", "colour_contrast", "colour_chroma", "colour_shift")
OUT = Path("results/bench/drift_metrics.json")


def colour_validity(items, frames: int) -> dict:
    from bench.world.drift_effects import COLOUR_EFFECTS
    from metrics import evaluate
    from metrics.drift import start_end_contrast, video_drift_error

    table: dict = {}
    for effect, apply in COLOUR_EFFECTS.items():
        per_strength = {s: {m: [] for m in COLOUR_METRICS} for s in STRENGTHS}
        vde_strength = {s: [] for s in STRENGTHS}
        ordered = 0
        for item in items:
            clip = item.reference_clip(frames).frames
            deltas = []
            for strength in STRENGTHS:
                results = evaluate(apply(clip, strength), names=list(COLOUR_METRICS), backends="classical",
                                   reference=item.start_frame, on_error="raise")
                delta = start_end_contrast(results).set_index("metric")["delta"]
                for metric in COLOUR_METRICS:
                    per_strength[strength][metric].append(float(delta[metric]))
                vde = video_drift_error(results[results["metric"] == TARGET[effect]], 10, "linear")["vde"].iloc[0]
                vde_strength[strength].append(float(vde))
                deltas.append(float(delta[TARGET[effect]]))
            ordered += int(np.all(np.diff(deltas) > 0))
        table[effect] = {
            "target": TARGET[effect], "ranked_in_order_share": ordered / len(items),
            "mean_delta": {str(s): {m: float(np.mean(v)) for m, v in per_strength[s].items()} for s in STRENGTHS},
            "mean_vde_of_target": {str(s): float(np.nanmean(v)) for s, v in vde_strength.items()},
        }
    return table


def i2v_validity(items, frames: int) -> dict:
    from bench.world import COLOURS, SHAPES, sample_attributes, states_for
    from bench.world.render import render_states
    from metrics import evaluate

    curves: dict = {name: {"real": [], "subject_swapped": [], "background_swapped": []}
                    for name in ("i2v_subject", "i2v_background")}
    half = frames // 2
    for item in items:
        a = item.attributes
        states = states_for(a, frames, 16.0)
        real = render_states(states, a.background)
        other = [dataclasses.replace(s, colour=next(c for c in COLOURS if c != a.colour),
                                     shape=next(x for x in SHAPES if x != a.shape)) for s in states]
        background = sample_attributes(np.random.default_rng(item.seed + 1)).background
        videos = {"real": real,
                  "subject_swapped": np.concatenate([real[:half], render_states(other, a.background)[half:]]),
                  "background_swapped": np.concatenate([real[:half], render_states(states, background)[half:]])}
        for kind, video in videos.items():
            results = evaluate(video, names=list(curves), backends="lab", reference=item.start_frame, on_error="raise")
            for name in curves:
                values = results[(results["metric"] == name) & (results["kind"] == "frame")]["value"].to_numpy()
                curves[name][kind].append(float(values[half:].mean()))
    return {name: {kind: float(np.mean(v)) for kind, v in kinds.items()} for name, kinds in curves.items()}


def reference_validity(items, frames: int, windows: int) -> dict:
    from bench.world.continuations import alternative_continuation
    from bench.world.drift_effects import blur
    from metrics.registry import get_set_metric_class

    true = [item.reference_clip(frames).frames for item in items]
    reference = [alternative_continuation(item.attributes, item.seed, 0, frames) for item in items]
    floor = [alternative_continuation(item.attributes, item.seed, 1, frames) for item in items]
    sets = {"real clips": true, "static (start frame repeated)": [np.repeat(v[:1], frames, 0) for v in true],
            "growing blur (σ → 2.5 px)": [blur(v, 2.5) for v in true]}
    metric = get_set_metric_class("reference_distance", "lab")()
    out = {}
    for name, videos in sets.items():
        table = metric.measure_sets(name, videos, reference, floor, windows)
        curve = table[table["kind"] == "window"]
        summary = table.set_index("kind")
        out[name] = {"curve": [round(float(v), 5) for v in curve["value"]],
                     "floor": [round(float(v), 5) for v in curve["floor"]],
                     "start": float(summary.loc["start", "value"]), "end": float(summary.loc["end", "value"]),
                     "contrast": float(summary.loc["contrast", "value"]),
                     "contrast_floor": float(summary.loc["contrast", "floor"])}
    return out


def speed(items, frames: int) -> dict:
    import torch

    from metrics.registry import get_metric, get_set_metric_class

    torch.set_num_threads(1)
    clip = items[0].reference_clip(frames).frames
    timings = {}
    for name, backend in (("colour_lightness", "classical"), ("colour_shift", "classical"),
                          ("i2v_subject", "lab"), ("i2v_background", "lab")):
        metric = get_metric(name, backend)
        metric(clip[:4], reference=items[0].start_frame)  # warm up (loads, caches)
        shifted = clip.copy()
        shifted[..., 0] ^= 1  # new content: no cached reading
        start = time.perf_counter()
        metric(shifted, reference=items[0].start_frame)
        timings[f"{name}[{backend}]"] = 1000 * (time.perf_counter() - start) / frames
    features = get_set_metric_class("reference_distance", "lab")()
    features.frame_features(clip[:4])
    start = time.perf_counter()
    features.frame_features(clip)
    timings["reference_distance[lab] features"] = 1000 * (time.perf_counter() - start) / frames
    return {k: round(v, 3) for k, v in timings.items()}


def markdown(report: dict) -> str:
    lines = [f"# Drift metrics: validity and speed ({report['items']} validation items, {report['frames']} frames)", ""]
    lines += ["## Colour drift: start–end Δ of the curve that reads each effect, by strength", "",
              "| effect | curve | " + " | ".join(f"s={s}" for s in STRENGTHS) + " | ranked in order |",
              "|---|---|" + "---:|" * len(STRENGTHS) + "---:|"]
    for effect, entry in report["colour"].items():
        cells = [f"{entry['mean_delta'][str(s)][entry['target']]:.2f}" for s in STRENGTHS]
        lines.append(f"| {effect} | {entry['target']} | " + " | ".join(cells)
                     + f" | {entry['ranked_in_order_share']:.0%} |")
    lines += ["", "## Image-to-video fidelity (lab): mean per-frame value over the second half", "",
              "| metric | real | subject swapped | background swapped |", "|---|---:|---:|---:|"]
    for name, entry in report["i2v"].items():
        lines.append(f"| {name} | {entry['real']:.3f} | {entry['subject_swapped']:.3f} | "
                     f"{entry['background_swapped']:.3f} |")
    lines += ["", "## Reference distance (lab, set-level) per window, with the real-vs-real floor", ""]
    windows = len(next(iter(report["reference"].values()))["curve"])
    lines += ["| set | " + " | ".join(f"w{w}" for w in range(windows)) + " | Δ (set) |",
              "|---|" + "---:|" * (windows + 1)]
    for name, entry in report["reference"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in entry["curve"]) + f" | {entry['contrast']:.4f} |")
    floor = next(iter(report["reference"].values()))
    lines.append("| real vs real (floor) | " + " | ".join(f"{v:.4f}" for v in floor["floor"])
                 + f" | {floor['contrast_floor']:.4f} |")
    lines += ["", "## Speed (ms per frame, one thread, shared machine)", "", "| metric | ms / frame |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["speed_ms_per_frame"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=8, help="validation items (held out from training)")
    parser.add_argument("--frames", type=int, default=109, help="frames per clip (the demo's long videos: 109)")
    parser.add_argument("--windows", type=int, default=6, help="windows of the set-level curve")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.items < 2 or args.frames < 8 or args.windows < 1:
        raise SystemExit(f"--items >= 2, --frames >= 8 and --windows >= 1 expected, got {args.items}, {args.frames}, "
                         f"{args.windows}")
    from bench.world import validation_items

    items = validation_items("i2v", args.items)
    started = time.perf_counter()
    report = {"items": args.items, "frames": args.frames, "split": "validation", "strengths": list(STRENGTHS),
              "colour": colour_validity(items, args.frames), "i2v": i2v_validity(items, args.frames),
              "reference": reference_validity(items, args.frames, args.windows),
              "speed_ms_per_frame": speed(items, args.frames),
              "machine": {"python": platform.python_version(), "processor": platform.machine(),
                          "note": "shared 2-core machine, one thread"}}
    report["seconds"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    print(f"wrote {atomic_write_json(out, report)}")
    text = markdown(report)
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
