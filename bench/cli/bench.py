"""`fpbench bench`: timing and memory benchmarks (scripts, not tests).

    fpbench bench context [--quick] [--out results/bench] [--steps 25] [--repeats 3]
    fpbench bench throughput [--quick] [--skip-demo] [--out results/bench]

`context`: FramePack packing versus naive full context (tokens and per-section latency for
section indices 1 … 64 of the lab model), the suite's full-scale sampler against diffusers'
HunyuanVideoFramepackPipeline on a tiny random model, and peak memory of a 600-frame versus a
60-frame lab generation. Writes a parquet table, a Markdown table, a plot and a JSON summary.

`throughput`: seconds per phase of one lab video before and after each speed lever, every paper
row's cost, one versus two worker processes, the projected wall time of the lab study (both paper
grids) and the demo's wall time (bench/benchmarks/throughput.py). Writes throughput.json / .md.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="timing and memory benchmarks", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    context = benchmarks.add_parser(
        "context", help="FramePack vs naive context, sampler overhead, memory over length",
        description="Times one section's forward pass with FramePack's bounded context against a naive growing "
                    "context over the video length, the suite's sampler against diffusers' loop, and peak memory "
                    "for 60- and 600-frame videos; writes JSON and figures to --out.")
    context.add_argument("--out", default="results/bench", help="output folder (default results/bench)")
    context.add_argument("--quick", action="store_true", help="sections 1, 2, 4, …, 64 only instead of every index")
    context.add_argument("--steps", type=int, default=25, help="sampler steps per section (default 25)")
    context.add_argument("--repeats", type=int, default=3, help="timed repetitions per point (default 3)")
    context.add_argument("--skip-diffusers", action="store_true", help="leave out the sampler-vs-diffusers timing")
    context.add_argument("--skip-memory", action="store_true", help="leave out the 60- vs 600-frame memory runs")
    context.add_argument("--threads", type=int, default=1, help="torch CPU threads while timing (default 1)")
    context.set_defaults(func=run_context)
    throughput = benchmarks.add_parser(
        "throughput", help="per-phase seconds per video and lever, projected study and demo wall time",
        description="Measures, in one run, where a lab video's time goes (load, generate, decode, encode, metrics, "
                    "write) before and after each speed lever, one video of every row of both paper grids, one "
                    "vs two worker processes, the projected wall time of the whole lab study and the demo's wall "
                    "time; writes throughput.json and throughput.md (docs/throughput.md). Run it on an idle "
                    "machine: it reports how many cores were free.")
    throughput.add_argument("--out", default="results/bench", help="output folder (default results/bench)")
    throughput.add_argument("--quick", action="store_true",
                            help="2-section videos (the projection scales them to 12) and 2 videos per worker test")
    throughput.add_argument("--skip-demo", action="store_true", help="leave out the demo's wall time")
    throughput.add_argument("--videos", type=int, default=4, help="videos for the one- vs two-worker test (default 4)")
    throughput.set_defaults(func=run_throughput)


def run_throughput(args: argparse.Namespace) -> int:
    from bench.benchmarks.throughput import markdown, run

    if args.videos < 1:
        raise ValueError(f"--videos must be >= 1, got {args.videos}")
    print(markdown(run(args.out, args.quick, args.skip_demo, args.videos)))
    return 0


def run_context(args: argparse.Namespace) -> int:
    import json

    from bench.benchmarks.context import run

    if args.steps < 1 or args.repeats < 1 or args.threads < 1:
        raise ValueError(f"--steps, --repeats and --threads must be >= 1, got {args.steps}, {args.repeats}, {args.threads}")
    summary = run(args.out, args.quick, args.steps, args.repeats, args.skip_diffusers, args.skip_memory, args.threads)
    print(json.dumps({k: v for k, v in summary.items() if k != "memory"}, indent=2))
    return 0
