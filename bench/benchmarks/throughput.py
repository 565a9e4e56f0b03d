"""Throughput benchmark: where a lab video's time goes, what each speed lever saves, and the
projected wall time of the lab study (both paper grids at full size) and of the demo.

    fpbench bench throughput [--quick] [--skip-demo] [--out results/bench]
    python -m bench.benchmarks.throughput --quick

Measured in one run, one thread per process, on this machine (a script, not a timed test):

1. Profile: one video (grids/paper-table1.yaml's vanilla row, test item 0, seed 0, 12 sections,
   25 steps) through the harness's own `execute_run`, once per lever, cumulatively:
   `reference` (every solver step recomputes the section's constant work; each lab metric runs
   the perceptor itself; motion and dynamic each compute their optical flow), `metrics_one_pass`
   (one perceptor pass and one flow per frame pair per video), `section_cache` (a section's
   constant work once per section). Seconds per phase (load, generate — split into backbone
   blocks and the rest —, decode, encode, metrics, write) and network evaluations (NFE).
2. Rows: one video of every distinct row of both paper grids with every lever, its phases and NFE.
3. Both cores: the same videos with one worker process and with two (one thread each).
4. Projection: the study's wall time = worker start-up + Σ over rows of its runs × its seconds
   per video, divided by the two-worker speed-up; videos per minute.
5. Demo: `fpbench demo --jobs 2` in a subprocess, wall seconds.

Writes `throughput.json` and `throughput.md` under `--out`.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic_files import atomic_write_json, atomic_write_text

GRIDS = ("grids/paper-table1.yaml", "grids/paper-table2.yaml")
PROFILE_ROW = ("grids/paper-table1.yaml", "td_f16k4f4k2f1k1_g9")
STUDY_GOAL_MINUTES = 60.0
DEMO_GOAL_SECONDS = 60.0


@dataclass(frozen=True)
class Lever:
    """A speed lever, on top of the ones before it."""

    name: str
    description: str
    metrics_one_pass: bool
    section_cache: bool


LEVERS = (
    Lever("reference", "every step recomputes the section's constant work; each lab metric runs the perceptor "
          "itself; motion and dynamic compute their own flows", False, False),
    Lever("metrics_one_pass", "one perceptor pass and one optical flow per frame pair per video", True, False),
    Lever("section_cache", "anchors and their warp, conditioning memory and its cross-attention K/V, context "
          "embeddings and RoPE once per section (bit-exact)", True, True),
)


@contextlib.contextmanager
def metric_sharing(enabled: bool) -> Iterator[None]:
    """Share (or not) the perceptor's reading and optical flows between the metrics of a video."""
    from metrics.classical import optical_flow
    from metrics.lab import perceptor_metrics

    sizes = (perceptor_metrics.PERCEPTION_CACHE_SIZE, optical_flow.FLOW_CACHE_SIZE)
    perceptor_metrics._PERCEPTIONS.clear()
    optical_flow._FLOWS.clear()
    if not enabled:
        perceptor_metrics.PERCEPTION_CACHE_SIZE = optical_flow.FLOW_CACHE_SIZE = 0
    try:
        yield
    finally:
        perceptor_metrics.PERCEPTION_CACHE_SIZE, optical_flow.FLOW_CACHE_SIZE = sizes
        perceptor_metrics._PERCEPTIONS.clear()
        optical_flow._FLOWS.clear()


@contextlib.contextmanager
def backbone_clock(generator: Any) -> Iterator[list[float]]:
    """Seconds spent in the transformer blocks of the generator's model (forward hooks)."""
    from torch import nn

    sampler = getattr(generator, "single", generator)
    spent, started, handles = [0.0], [0.0], []

    def before(*_: Any) -> None:
        started[0] = time.perf_counter()

    def after(*_: Any) -> None:
        spent[0] += time.perf_counter() - started[0]

    model = getattr(sampler, "model", None)  # reference rows (real clips) have no network
    for module in model.modules() if model is not None else ():
        blocks = getattr(module, "blocks", None)
        if isinstance(blocks, nn.ModuleList):
            for block in blocks:
                handles += [block.register_forward_pre_hook(before), block.register_forward_hook(after)]
    try:
        yield spent
    finally:
        for handle in handles:
            handle.remove()


def measure_video(run: Any, lever: Lever, store_root: str, fresh_load: bool) -> dict[str, Any]:
    """One video of `run` through `execute_run` with `lever`; its compute record plus the backbone's share."""
    from bench.executors import run_task
    from bench.run_store import RunStore

    if fresh_load:
        run_task._GENERATOR_CACHE.clear()
    started = time.perf_counter()
    generator = run_task._generator_for(run)
    load = time.perf_counter() - started
    getattr(generator, "single", generator).section_cache = lever.section_cache
    RunStore(store_root).reset(run.key)
    cpu_started = time.process_time()
    with metric_sharing(lever.metrics_one_pass), backbone_clock(generator) as backbone:
        outcome = run_task.execute_run(run_task.RunTask(config=run, store_root=store_root))
    cpu = time.process_time() - cpu_started
    if not outcome.ok:
        raise RuntimeError(f"{run.row_name}: {outcome.error}")
    compute = RunStore(store_root).status(run.key).info["compute"]
    seconds = dict(compute["seconds"], load=round(load, 4))
    seconds["backbone"] = round(backbone[0], 4)
    seconds["video"] = round(sum(seconds[k] for k in ("generate", "encode", "metrics", "write")), 4)
    # CPU seconds of the whole run: what its wall time is on an idle core (this machine is shared)
    seconds["video_cpu"] = round(cpu, 4)
    return {"seconds": seconds, "network_evaluations": compute["network_evaluations"],
            "peak_memory_mb": compute["peak_memory_mb"]}


def study_runs(sections: int | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """Each distinct row of both paper grids ({row key: one run of it}) and its number of distinct runs."""
    from bench.grid import load_and_resolve

    first, counts, seen = {}, {}, set()
    for path in GRIDS:
        grid = load_and_resolve(path, [] if sections is None else [f"lengths.long={sections}"])
        for run in grid.runs:
            if run.key in seen:
                continue
            seen.add(run.key)
            row = f"{run.row_name} [{Path(run.row.checkpoint or '').stem}]"
            counts[row] = counts.get(row, 0) + 1
            first.setdefault(row, run)
    return first, counts


def profile_runs(sections: int, items: int = 1) -> list[Any]:
    """The profiled row's runs on the first `items` test items (seed 0) at `sections` sections."""
    from bench.grid import load_and_resolve

    grid = load_and_resolve(PROFILE_ROW[0], [f"prompts.count={items}", "seeds=[0]", f"lengths.long={sections}"])
    return [r for r in grid.runs if r.row_name == PROFILE_ROW[1]]


def startup_seconds() -> float:
    """A fresh worker's start-up: interpreter, torch and the harness's imports."""
    code = ("import time; t = time.perf_counter(); import torch; import bench.executors.run_task, bench.grid, "
            "framepack.lab.model, metrics.evaluate, metrics.lab.perceptor_metrics, metrics.classical.optical_flow; "
            "print(time.perf_counter() - t)")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return time.perf_counter() - started


_SPIN = ("import time, torch; torch.set_num_threads(1); a = torch.randn(300, 300); t = time.perf_counter()\n"
         "for _ in range(2000): a @ a\nprint(time.perf_counter() - t)")


def free_cores() -> float:
    """How many cores this process's workers can actually get now: one single-thread matrix loop
    alone, then two at once; 2 × alone / together (2 on an idle 2-core machine, 1 when other jobs
    hold a core)."""
    def spin(copies: int) -> float:
        started = time.perf_counter()
        processes = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.DEVNULL) for _ in range(copies)]
        for process in processes:
            process.wait()
        return time.perf_counter() - started

    alone = spin(1)
    return round(2 * alone / spin(2), 2)


def parallel_speedup(runs: list[Any], root: Path) -> dict[str, float]:
    """Wall seconds of the same videos with one worker process and with two; the speed-up."""
    from bench.executors.pool import LocalPoolExecutor
    from bench.executors.run_task import RunTask

    walls = {}
    for jobs in (1, 2):
        store = root / f"pool{jobs}"
        tasks = [RunTask(config=run, store_root=str(store)) for run in runs]
        started = time.perf_counter()
        outcomes = LocalPoolExecutor(jobs).run(tasks)
        walls[jobs] = time.perf_counter() - started
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"parallel run failed: {failed[0].error}")
    return {"videos": len(runs), "one_worker_seconds": round(walls[1], 2), "two_workers_seconds": round(walls[2], 2),
            "speedup": round(walls[1] / walls[2], 3)}


def demo_seconds(root: Path) -> float:
    """Wall seconds of `fpbench demo --jobs 2` (fresh store, results in a scratch folder)."""
    command = [sys.executable, "-m", "bench", "demo", "--jobs", "2", "--no-progress",
               "--results", str(root / "demo_results"), "--store", str(root / "demo_runs")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the demo failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def run(out: str | Path = "results/bench", quick: bool = False, skip_demo: bool = False,
        parallel_videos: int = 4) -> dict[str, Any]:
    """Measure everything (see the module docstring) and write throughput.json / throughput.md."""
    import torch
    from rich.progress import Progress

    from bench.executors.provenance import git_revision, machine
    torch.set_num_threads(1)  # the runs themselves compute with their grid's threads (1 in the paper grids)
    sections = 2 if quick else None
    profile = profile_runs(sections or 12)[0]
    rows, counts = study_runs(sections)
    result: dict[str, Any] = {"quick": quick, "threads_per_process": torch.get_num_threads(), "git": git_revision(),
                              "machine": machine(), "levers": {lever.name: lever.description for lever in LEVERS}}
    with tempfile.TemporaryDirectory() as scratch, Progress() as progress:
        root = Path(scratch)
        task = progress.add_task("throughput", total=2 + len(LEVERS) + len(rows) + (0 if skip_demo else 1))
        result["startup_seconds"] = round(startup_seconds(), 2)
        progress.advance(task)
        measure_video(profile, LEVERS[-1], str(root / "warmup"), fresh_load=True)  # one-off loads out of the way
        result["profile"] = {}
        for lever in LEVERS:
            result["profile"][lever.name] = measure_video(profile, lever, str(root / "profile"), fresh_load=True)
            progress.advance(task)
        result["rows"] = {}
        for row, first in rows.items():
            measured = measure_video(first, LEVERS[-1], str(root / "rows"), fresh_load=True)
            result["rows"][row] = {"runs": counts[row], **measured}
            progress.advance(task)
        result["parallel"] = parallel_speedup(profile_runs(sections or 12, 2 if quick else parallel_videos), root)
        result["parallel"]["free_cores"] = free_cores()
        progress.advance(task)
        if not skip_demo:
            result["demo_seconds"] = round(demo_seconds(root), 1)
            progress.advance(task)
    result["projection"] = projection(result)
    out = Path(out)
    atomic_write_json(out / "throughput.json", result)
    atomic_write_text(out / "throughput.md", markdown(result))
    return result


def projection(result: dict[str, Any]) -> dict[str, Any]:
    """Projected study wall time on this machine with two worker processes (see the module docstring)."""
    rows = result["rows"]
    scale = 6.0 if result["quick"] else 1.0  # quick mode measures 2 of the study's 12 sections
    serial = sum(r["runs"] * (r["seconds"]["video"] * scale) + r["seconds"]["load"] for r in rows.values())
    serial_cpu = sum(r["runs"] * (r["seconds"]["video_cpu"] * scale) + r["seconds"]["load"] for r in rows.values())
    speedup = result["parallel"]["speedup"]
    wall = result["startup_seconds"] + serial / speedup
    # idle machine: one thread per worker keeps a core busy, so two workers halve the CPU-time total
    idle = result["startup_seconds"] + serial_cpu / 2
    videos = sum(r["runs"] for r in rows.values())
    return {"videos": videos, "serial_seconds": round(serial, 1), "serial_cpu_seconds": round(serial_cpu, 1),
            "speedup": speedup, "study_minutes": round(wall / 60, 1),
            "videos_per_minute": round(videos / (wall / 60), 2), "idle_study_minutes": round(idle / 60, 1),
            "idle_videos_per_minute": round(videos / (idle / 60), 2),
            "goal_minutes": STUDY_GOAL_MINUTES, "estimated_from_short_videos": result["quick"]}


def markdown(result: dict[str, Any]) -> str:
    """The benchmark as Markdown tables."""
    phases = ("load", "generate", "backbone", "decode", "encode", "metrics", "write", "video", "video_cpu")
    lines = ["# Throughput (lab scale, one thread per process)", "",
             f"Machine: {result['machine']['processor']}, {result['machine']['cpu_count']} cores (shared while "
             f"measured); code {str(result['git'].get('revision'))[:10]}{' (dirty)' if result['git'].get('dirty') else ''}.",
             "`backbone` is the time inside the transformer blocks (part of `generate`); `decode` is also part of "
             "`generate`; `video` = generate + encode + metrics + write (wall); `video_cpu` = the run's CPU seconds "
             "(its wall time on an idle core).", "",
             f"## One video (vanilla row, test item 0, {2 if result['quick'] else 12} sections, 25 steps), per lever", "",
             "| lever | " + " | ".join(phases) + " | NFE |", "|---" * (len(phases) + 2) + "|"]
    for name, measured in result["profile"].items():
        cells = " | ".join(f"{measured['seconds'][p]:.2f}" for p in phases)
        lines.append(f"| {name} | {cells} | {measured['network_evaluations']} |")
    lines += ["", "Levers: " + "; ".join(f"**{k}**: {v}" for k, v in result["levers"].items()) + ".", "",
              "## Every row of both paper grids (one video each, all levers)", "",
              "| row | runs | generate | backbone | decode | metrics | video | video_cpu | NFE | peak MiB |",
              "|---" * 10 + "|"]
    for row, measured in result["rows"].items():
        s = measured["seconds"]
        lines.append(f"| {row} | {measured['runs']} | {s['generate']:.2f} | {s['backbone']:.2f} | {s['decode']:.2f} | "
                     f"{s['metrics']:.2f} | {s['video']:.2f} | {s['video_cpu']:.2f} | {measured['network_evaluations']} | "
                     f"{measured['peak_memory_mb']:.0f} |")
    p, par = result["projection"], result["parallel"]
    lines += ["", "## Projection", "",
              f"- worker start-up: {result['startup_seconds']:.1f} s",
              f"- study ({p['videos']} distinct videos, both paper grids) on an idle machine, from the runs' CPU "
              f"seconds with two workers at one core each: **{p['idle_study_minutes']:.1f} min** "
              f"(goal {p['goal_minutes']:.0f}), {p['idle_videos_per_minute']:.1f} videos/min",
              f"- wall as measured: {p['serial_seconds'] / 60:.1f} min of one-worker work; two workers vs one on "
              f"{par['videos']} videos took {par['two_workers_seconds']:.1f} s vs {par['one_worker_seconds']:.1f} s "
              f"(speed-up {par['speedup']:.2f}" + (f"; cores free for them at the time: {par['free_cores']:.1f} of 2"
                                                   if "free_cores" in par else "") +
              f"), so {p['study_minutes']:.1f} min — wall times on a shared machine follow its other load"]
    if "demo_seconds" in result:
        lines.append(f"- demo (`fpbench demo --jobs 2`): **{result['demo_seconds']:.0f} s** wall (goal {DEMO_GOAL_SECONDS:.0f} s)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.out, args.quick, args.skip_demo, 2 if args.quick else 4)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
