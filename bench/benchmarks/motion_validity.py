"""Validity of the lab Motion and Dynamic backends, and the world statistics that scale them.

    python -m bench.benchmarks.motion_validity               # validity study (12 clips)
    python -m bench.benchmarks.motion_validity --calibrate   # re-measure metrics/lab/world_motion.py
    python -m bench.benchmarks.motion_validity --classical   # also the VBench-rule classical backends

Every clip is a real clip of the lab world from validation seeds (never training seeds); from each,
six altered versions with known motion faults are rendered from the clip's own ground truth:

    real         the clip as rendered
    reversed     the clip played backwards                  (smooth, moving)
    frozen       the first frame repeated                   (smooth, still)
    shaking      the first frame's subject offset ±1.5 px at random every frame (jitter in place)
    jittered     the real path plus the same ±1.5 px offsets (jitter on top of real motion)
    teleporting  the real path plus a 10 px jump in a random direction every 0.5 s
    speckled     the real clip with 3 % of the pixels of every frame set to random colours

Expected order, and why:

    dynamic  {real, reversed, jittered, teleporting, speckled} > {frozen, shaking}: the first group's
             subject travels (speckle and jitter do not stop it); the second's does not, however much
             it shakes. real and reversed read the same (the same travel).
    motion   {real, reversed, frozen} > {jittered, shaking, teleporting, speckled}: smooth paths and
             still frames cost nothing; shaking, jumps and one-frame flashes do. Playing a clip
             backwards keeps it smooth.

Writes results/bench/motion_validity.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json

OUT = Path("results/bench/motion_validity.json")
KINDS = ("real", "reversed", "frozen", "shaking", "jittered", "teleporting", "speckled")
MOVING = ("real", "reversed", "jittered", "teleporting", "speckled")
STILL = ("frozen", "shaking")
SMOOTH = ("real", "reversed", "frozen")
ROUGH = ("jittered", "shaking", "teleporting", "speckled")
JITTER_PX = 1.5
TELEPORT_PX = 10.0
TELEPORT_EVERY = 8  # frames (0.5 s at 16 fps)
SPECKLE_SHARE = 0.03
CALIBRATION_OFFSET = 20_000  # validation seeds the world statistics were measured on
STUDY_OFFSET = 30_000  # validation seeds of the validity study (disjoint from the calibration's)


def altered_videos(clip, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The clip and its six altered versions (see the module docstring), uint8 (T, 64, 64, 3) each."""
    from bench.world import FRAME_SIZE, render_state

    states, background = clip.states, clip.background
    count = len(states)
    first = states[0]
    low, high = first.radius + 1.0, FRAME_SIZE - first.radius - 1.0

    def moved(state, dx: float, dy: float):
        return dataclasses.replace(state, x=float(np.clip(state.x + dx, low, high)),
                                   y=float(np.clip(state.y + dy, low, high)))

    jitter = rng.uniform(-JITTER_PX, JITTER_PX, (count, 2))
    jumps = np.zeros((count, 2))
    for start in range(TELEPORT_EVERY, count, TELEPORT_EVERY):
        angle = rng.uniform(0, 2 * np.pi)
        jumps[start:] += TELEPORT_PX * np.array([np.cos(angle), np.sin(angle)])
        jumps[start:] = np.clip(jumps[start:], -12.0, 12.0)  # keep wandering near the real path
    speckled = clip.frames.copy()
    mask = rng.random(speckled.shape[:3]) < SPECKLE_SHARE
    speckled[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    return {
        "real": clip.frames,
        "reversed": clip.frames[::-1].copy(),
        "frozen": np.repeat(clip.frames[:1], count, axis=0),
        "shaking": np.stack([render_state(moved(first, *offset), background) for offset in jitter]),
        "jittered": np.stack([render_state(moved(s, *offset), background) for s, offset in zip(states, jitter, strict=True)]),
        "teleporting": np.stack([render_state(moved(s, *offset), background) for s, offset in zip(states, jumps, strict=True)]),
        "speckled": speckled,
    }


def study_clips(clips: int, frames: int, offset: int = STUDY_OFFSET):
    from bench.world import VALIDATION_SEEDS, sample_clip

    return [sample_clip(VALIDATION_SEEDS.start + offset + i, frames) for i in range(clips)]


def auc(positive, negative) -> float:
    """P(a positive scores above a negative), ties half."""
    positive, negative = np.asarray(positive, float)[:, None], np.asarray(negative, float)[None, :]
    return float((positive > negative).mean() + 0.5 * (positive == negative).mean())


def validity_report(clips: int = 12, frames: int = 109, checkpoint: str | None = None, classical: bool = False,
                    offset: int = STUDY_OFFSET) -> dict:
    """Scores of every metric on every kind of video; the group separations the docstring expects."""
    from metrics.registry import get_metric

    metrics = {("motion", "lab"): get_metric("motion", "lab", checkpoint=checkpoint),
               ("dynamic", "lab"): get_metric("dynamic", "lab", checkpoint=checkpoint)}
    ok, reason = metrics[("motion", "lab")].available()
    if not ok:
        raise FileNotFoundError(reason)
    if classical:
        metrics.update({(name, "classical"): get_metric(name, "classical") for name in ("motion", "dynamic")})
    rng = np.random.default_rng(0)
    scores: dict[str, dict[str, list[float]]] = {f"{n}[{b}]": {k: [] for k in KINDS} for n, b in metrics}
    for clip in study_clips(clips, frames, offset):
        for kind, video in altered_videos(clip, rng).items():
            for (name, backend), metric in metrics.items():
                scores[f"{name}[{backend}]"][kind].append(metric(video).score)
    report: dict = {"clips": clips, "frames": frames, "seed_offset": offset,
                    "version": metrics[("motion", "lab")].cache_version, "metrics": {}}
    for label, by_kind in scores.items():
        high, low = (MOVING, STILL) if label.startswith("dynamic") else (SMOOTH, ROUGH)
        report["metrics"][label] = {
            "mean": {kind: float(np.mean(values)) for kind, values in by_kind.items()},
            "expected_high": list(high), "expected_low": list(low),
            # every high kind against every low kind, paired over clips
            "auc_high_vs_low": {f"{h}>{lo}": auc(by_kind[h], by_kind[lo]) for h in high for lo in low},
            "min_auc": min(auc(by_kind[h], by_kind[lo]) for h in high for lo in low),
            "real_minus_reversed": float(np.mean(by_kind["real"]) - np.mean(by_kind["reversed"])),
        }
    report["machine"] = platform.platform()
    return report


def world_statistics(clips: int = 24, frames: int = 109, offset: int = CALIBRATION_OFFSET) -> dict:
    """The numbers in metrics/lab/world_motion.py, measured on real clips (and shaking ones for contrast)."""
    from metrics.lab.dynamic_degree import window_displacements
    from metrics.lab.motion_smoothness import flicker
    from metrics.registry import get_metric

    metric = get_metric("motion", "lab")
    displacement, shaking, second, flick = [], [], [], []
    rng = np.random.default_rng(0)
    for clip in study_clips(clips, frames, offset):
        videos = altered_videos(clip, rng)
        seen = metric.perceive(clip.frames)
        position = np.asarray(seen.position, np.float64)
        displacement.append(window_displacements(position, seen.present, clip.fps)[0])
        second.append(np.linalg.norm(position[:-2] - 2 * position[1:-1] + position[2:], axis=1))
        flick.append(flicker(clip.frames))
        shaken = metric.perceive(videos["shaking"])
        shaking.append(window_displacements(np.asarray(shaken.position, np.float64), shaken.present, clip.fps)[0])

    def summary(parts) -> dict:
        values = np.concatenate(parts)
        return {"median": float(np.median(values)), "p5": float(np.percentile(values, 5)),
                "p99": float(np.percentile(values, 99)), "max": float(values.max())}

    return {"clips": clips, "frames": frames, "seed_offset": offset,
            "second_displacement_px": summary(displacement), "shaking_second_displacement_px": summary(shaking),
            "second_difference_px": summary(second), "flicker_grey": summary(flick)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--calibrate", action="store_true", help="measure the world statistics instead")
    parser.add_argument("--classical", action="store_true", help="also score the classical backends")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.calibrate:
        print(json.dumps(world_statistics(), indent=2))
        return 0
    report = validity_report(args.clips, classical=args.classical)
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=2))
    print(f"wrote {atomic_write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
