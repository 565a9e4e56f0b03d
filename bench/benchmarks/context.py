"""Context benchmark: FramePack's bounded context versus naive full context, sampler overhead
against diffusers, and memory over video length.

    fpbench bench context [--quick] [--out results/bench]
    python -m bench.benchmarks.context --quick

Three measurements, written to `--out` (parquet / JSON / PNG / Markdown):

1. Context scaling (lab PackedDiT, random init — timing does not depend on the weights): for
   section index i = 1 … 64 of a vanilla video (`td_f16k4f4k2f1k1_g9`), the tokens the model
   sees and the latency of one section (`steps` forward passes: the least CPU time of `repeats`
   timed forwards, times `steps`), with FramePack packing (the section plan the sampler follows) and
   with naive full context (every earlier frame as k1 tokens).
2. Sampler overhead (tiny random FramePack / HunyuanVideo model): the suite's full-scale
   generator against `HunyuanVideoFramepackPipeline` on the same inputs (least CPU and wall time of interleaved runs).
3. Memory over length (lab FramePackGenerator, random init): peak resident memory of a
   600-frame generation versus a 60-frame one, each in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.atomic_files import atomic_write, atomic_write_json, atomic_write_parquet, atomic_write_text

VANILLA_SCHEDULE = "td_f16k4f4k2f1k1_g9"
LATENT_CHANNELS = 24  # the lab codec's
LATENT_HW = (8, 8)
GOALS = {"framepack_s64_over_s2": 1.15, "naive_s64_over_s2_at_least": 10.0, "sampler_over_diffusers": 1.05,
         "memory_600_over_60": 1.2}


# -- 1. context scaling ---------------------------------------------------------------------------


def group_tokens(frames: int, kernel, latent_hw: tuple[int, int] = LATENT_HW) -> int:
    """Tokens of a group of `frames` latent frames packed with `kernel` (replicate-padded)."""
    return math.ceil(frames / kernel.t) * math.ceil(latent_hw[0] / kernel.h) * math.ceil(latent_hw[1] / kernel.w)


def timed(run, repeats: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `run()`, each the minimum over `repeats` calls.

    The minimum, and CPU time next to wall time, because this machine is shared: interference only
    ever adds time, and CPU time does not count the time the process waits for a core.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return min(wall), min(cpu)


def _time_forward(model, noisy, positions, context, cond, repeats: int) -> tuple[float, float]:
    timesteps = torch.full((1, noisy.shape[2]), 0.5)
    with torch.no_grad():
        model(noisy, positions, timesteps, context, cond)  # warm-up (allocations, RoPE tables)
        return timed(lambda: model(noisy, positions, timesteps, context, cond), repeats)


def context_scaling(sections: list[int], steps: int = 25, repeats: int = 3, seed: int = 0, progress=None) -> pd.DataFrame:
    """Tokens and latency per section index, FramePack packing versus naive full context.

    Args:
        sections: 1-based section indices to measure (the history before section i is (i−1)·9 frames).
        steps: sampler steps a section takes (section latency = steps × forward CPU time).
        repeats: timed forwards per point (the minimum counts).
        seed: latents and model initialisation.
        progress: optional callable(done, total) for a progress bar.

    Returns:
        One row per (method, section): tokens, context_frames, forward_wall_seconds,
        forward_cpu_seconds, section_seconds.
    """
    from framepack.kernels import Kernel
    from framepack.lab.model import PackedDiT, PackedDiTConfig
    from framepack.packed_group import PackedGroup
    from framepack.section_plan import plan_sections

    torch.manual_seed(seed)
    model = PackedDiT(PackedDiTConfig(latent_channels=LATENT_CHANNELS, seed=seed)).eval()
    cond = model.text_encoder().condition("a red circle drifts left")
    plans = plan_sections(VANILLA_SCHEDULE, max(sections), "vanilla", has_start=False, missing="zeros")
    generator = torch.Generator().manual_seed(seed)

    def latents(frames: int) -> torch.Tensor:
        return torch.randn(1, LATENT_CHANNELS, frames, *LATENT_HW, generator=generator)

    k1 = Kernel.from_level(1)
    rows = []
    for done, index in enumerate(sections, start=1):
        plan = plans[index - 1]
        generated = len(plan.generated)
        noisy = latents(generated)
        noisy_tokens = group_tokens(generated, k1)
        # FramePack: the plan's groups (zero-filled slots count; the released models feed them too).
        packed = [PackedGroup(latents(len(p.frames)), torch.tensor(p.positions), p.kernel) for p in plan.context]
        packed_tokens = noisy_tokens + sum(group_tokens(g.num_frames, g.kernel) for g in packed)
        positions = torch.tensor(plan.generated_positions)
        wall, cpu = _time_forward(model, noisy, positions, packed, cond, repeats)
        rows.append({"method": "framepack", "section": index, "tokens": packed_tokens,
                     "context_frames": sum(len(p.real_frames) for p in plan.context),
                     "forward_wall_seconds": wall, "forward_cpu_seconds": cpu, "section_seconds": cpu * steps})
        # Naive: every earlier frame at full resolution.
        history = plan.generated[0]
        naive = [PackedGroup(latents(history), torch.arange(history), k1)] if history else []
        naive_tokens = noisy_tokens + group_tokens(history, k1) if history else noisy_tokens
        wall, cpu = _time_forward(model, noisy, torch.tensor(plan.generated), naive, cond, repeats)
        rows.append({"method": "naive", "section": index, "tokens": naive_tokens, "context_frames": history,
                     "forward_wall_seconds": wall, "forward_cpu_seconds": cpu, "section_seconds": cpu * steps})
        if progress is not None:
            progress(done, len(sections))
    return pd.DataFrame(rows)


# -- 2. sampler overhead versus diffusers ------------------------------------------------------------


def sampler_overhead(repeats: int = 5, size: int = 32, num_sections: int = 2, steps: int = 4, seed: int = 0) -> dict:
    """Median wall time of the suite's full-scale generator and of diffusers' pipeline on the tiny
    random model, same request; also checks that the frames agree."""
    from diffusers import HunyuanVideoFramepackPipeline
    from PIL import Image

    from framepack.generator import GenerationRequest
    from framepack.hunyuan.generator import PromptEmbeddings, load_hunyuan_generator
    from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

    generator = torch.Generator().manual_seed(seed)
    text = PromptEmbeddings(torch.randn(1, 7, 16, generator=generator), torch.ones(1, 7),
                            torch.randn(1, 8, generator=generator))
    image = np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed), folder)
        pipe = HunyuanVideoFramepackPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        suite = load_hunyuan_generator(folder, prompt_encoder=lambda prompt: text, height=size, width=size,
                                       steps=steps, device="cpu")
    request = GenerationRequest(prompt="bench", start_image=image, num_sections=num_sections, seed=seed)

    def run_diffusers() -> np.ndarray:
        return pipe(image=Image.fromarray(image), prompt_embeds=text.prompt_embeds,
                    prompt_attention_mask=text.prompt_attention_mask, pooled_prompt_embeds=text.pooled_prompt_embeds,
                    height=size, width=size, num_frames=num_sections * 33, num_inference_steps=steps,
                    guidance_scale=suite.options.distilled_guidance, generator=torch.Generator().manual_seed(seed),
                    output_type="np").frames[0]

    def run_suite() -> np.ndarray:
        chunks = {}
        suite.generate_unit_frames(request, lambda first, frames: chunks.__setitem__(first, frames.numpy()))
        return np.concatenate([chunks[first] for first in sorted(chunks)])

    max_difference = float(np.abs(run_suite() - run_diffusers()).max())  # also the warm-up
    times = {"suite": [], "diffusers": []}
    for _ in range(repeats):  # interleaved, so load on the machine affects both alike
        for name, run in (("suite", run_suite), ("diffusers", run_diffusers)):
            times[name].append(timed(run, 1))
    best = {name: (min(w for w, _ in pairs), min(c for _, c in pairs)) for name, pairs in times.items()}
    return {"suite_wall_seconds": best["suite"][0], "diffusers_wall_seconds": best["diffusers"][0],
            "suite_cpu_seconds": best["suite"][1], "diffusers_cpu_seconds": best["diffusers"][1],
            "ratio": best["suite"][1] / best["diffusers"][1], "wall_ratio": best["suite"][0] / best["diffusers"][0],
            "max_abs_frame_difference": max_difference, "repeats": repeats, "size": size,
            "sections": num_sections, "steps": steps}


# -- 3. memory over video length ----------------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(frames: int, steps: int, seed: int) -> dict:
    """Run one lab generation of about `frames` frames in THIS process; report its memory."""
    from framepack.framepack_generator import FramePackGenerator
    from framepack.generator import GenerationRequest
    from framepack.lab.codec import LabCodec, LabCodecConfig
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    class CountingSink:
        def __init__(self) -> None:
            self.frames = 0

        def put(self, first_index: int, chunk: np.ndarray) -> None:
            self.frames += len(chunk)

        def close(self) -> None:
            pass

    codec = LabCodec(LabCodecConfig(latent_channels=LATENT_CHANNELS))
    model = PackedDiT(PackedDiTConfig(latent_channels=LATENT_CHANNELS, seed=seed)).eval()
    generator = FramePackGenerator(model, codec, VANILLA_SCHEDULE, steps=steps, solver="euler")
    sections = math.ceil(frames / generator.schedule.frames_per_section)
    sink = CountingSink()
    baseline = _rss_bytes()
    start = time.perf_counter()
    generator.generate(GenerationRequest(prompt="a red circle drifts left", num_sections=sections, seed=seed), sink)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {"frames": sink.frames, "sections": sections, "seconds": time.perf_counter() - start,
            "baseline_rss_bytes": baseline, "peak_rss_bytes": peak, "peak_above_baseline_bytes": peak - baseline,
            "peak_buffer_frames": generator.peak_buffer_frames}


def memory_over_length(lengths: tuple[int, ...] = (60, 600), steps: int = 1, seed: int = 0) -> list[dict]:
    """Peak memory of lab generations of each length, each in a fresh interpreter."""
    results = []
    for frames in lengths:
        command = [sys.executable, "-m", "bench.benchmarks.context", "--memory-child", str(frames),
                   "--steps", str(steps), "--seed", str(seed)]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path(__file__).parents[2])
        results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return results


# -- outputs -------------------------------------------------------------------------------------------


def summarize(scaling: pd.DataFrame | None, overhead: dict | None, memory: list[dict] | None) -> dict:
    """The headline ratios next to their goals."""
    summary: dict = {"goals": GOALS, "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
                     "torch_threads": torch.get_num_threads()}
    if scaling is not None:
        for method in ("framepack", "naive"):
            rows = scaling[scaling.method == method].set_index("section")
            last = int(rows.index.max())
            if 2 in rows.index:
                summary[f"{method}_s{last}_over_s2"] = float(rows.section_seconds[last] / rows.section_seconds[2])
            summary[f"{method}_tokens_s1_s2_s{last}"] = [int(rows.tokens.get(i, -1)) for i in (1, 2, last)]
    if overhead is not None:
        summary["sampler_over_diffusers"] = overhead["ratio"]
        summary["sampler_overhead"] = overhead
    if memory is not None:
        short, long = memory[0], memory[-1]
        summary["memory"] = memory
        summary["memory_600_over_60"] = long["peak_rss_bytes"] / short["peak_rss_bytes"]
        summary["memory_above_baseline_600_over_60"] = long["peak_above_baseline_bytes"] / max(
            short["peak_above_baseline_bytes"], 1)
    return summary



def write_outputs(out: Path, scaling: pd.DataFrame | None, summary: dict) -> list[Path]:
    """context_scaling.parquet / .md / .png and context_summary.json under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if scaling is not None:
        parquet = out / "context_scaling.parquet"
        atomic_write_parquet(parquet, scaling)
        markdown = out / "context_scaling.md"
        atomic_write_text(markdown, markdown_table(scaling))
        figure = out / "context_scaling.png"
        atomic_write(figure, lambda stream: _plot(scaling, stream))
        written += [parquet, markdown, figure]
    summary_path = out / "context_summary.json"
    atomic_write_json(summary_path, summary)
    return written + [summary_path]


def markdown_table(scaling: pd.DataFrame) -> str:
    """Tokens and section latency per section index, FramePack next to naive, as Markdown."""
    wide = scaling.pivot(index="section", columns="method", values=["tokens", "section_seconds"])
    lines = ["| section | FramePack tokens | naive tokens | FramePack s/section | naive s/section | naive / FramePack |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for section, row in wide.iterrows():
        fp, naive = row[("section_seconds", "framepack")], row[("section_seconds", "naive")]
        lines.append(f"| {section} | {int(row[('tokens', 'framepack')])} | {int(row[('tokens', 'naive')])} | "
                     f"{fp:.3f} | {naive:.3f} | {naive / fp:.2f}x |")
    return "\n".join(lines) + "\n"


def _plot(scaling: pd.DataFrame, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (tokens_axis, latency_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for method, rows in scaling.groupby("method"):
        tokens_axis.plot(rows.section, rows.tokens, marker=".", label=method)
        latency_axis.plot(rows.section, rows.section_seconds, marker=".", label=method)
    tokens_axis.set(xlabel="section index", ylabel="tokens per forward", title="context tokens")
    latency_axis.set(xlabel="section index", ylabel="CPU seconds per section",
                     title="section latency (lab PackedDiT)")
    for axis in (tokens_axis, latency_axis):
        axis.set_yscale("log")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=120)
    plt.close(figure)


def run(out: str | Path = "results/bench", quick: bool = False, steps: int = 25, repeats: int = 3,
        skip_diffusers: bool = False, skip_memory: bool = False, threads: int = 1, show_progress: bool = True) -> dict:
    """Run the benchmark and write its files; returns the summary.

    Args:
        out: output folder.
        quick: measure sections 1, 2, 4, 8, 16, 32, 64 only (instead of every index 1 … 64).
        steps: sampler steps per section for the latency column.
        repeats: timed forwards per point (context scaling) and timed runs (sampler overhead).
        skip_diffusers, skip_memory: leave out measurement 2 / 3.
        threads: torch CPU threads while timing (1 keeps CPU time free of thread spinning).
    """
    torch.set_num_threads(threads)
    from rich.progress import Progress

    sections = [1, 2, 4, 8, 16, 32, 64] if quick else list(range(1, 65))
    with Progress(disable=not show_progress) as progress:
        task = progress.add_task("context scaling", total=len(sections))
        scaling = context_scaling(sections, steps=steps, repeats=repeats,
                                  progress=lambda done, total: progress.update(task, completed=done))
        overhead = None
        if not skip_diffusers:
            progress.add_task("sampler vs diffusers", total=None)
            overhead = sampler_overhead(repeats=max(repeats, 3))
        memory = None
        if not skip_memory:
            progress.add_task("memory 60 vs 600 frames", total=None)
            memory = memory_over_length()
    summary = summarize(scaling, overhead, memory)
    summary["files"] = [str(p) for p in write_outputs(Path(out), scaling, summary)]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-diffusers", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.steps, args.seed)))
        return 0
    summary = run(args.out, args.quick, args.steps, args.repeats, args.skip_diffusers, args.skip_memory, args.threads)
    print(json.dumps({k: v for k, v in summary.items() if k != "memory"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
