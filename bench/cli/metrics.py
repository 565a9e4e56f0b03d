"""`fpbench metrics PATH...`: measure mp4 files or folders with the metric backends.

Also `fpbench metrics --list`: every metric with its backend, granularity and whether it can
run here and now (and if not, why).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics", help="measure videos with the paper / classical / lab metric backends",
        description="Measure mp4 files (or folders of them) and print a summary table. Per-unit values and "
                    "video scores go to --out as tidy parquet rows. Bad videos get a per-video error; the "
                    "others are still measured. Exit status 1 if any (video, metric) could not be measured.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="mp4 files or folders (searched recursively)")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric names (default: all that the backends provide)")
    parser.add_argument("--backend", default="lab,classical",
                        help="lab | classical | paper, or a comma-separated preference order (default lab,classical)")
    parser.add_argument("--prompts", default=None,
                        help="JSON ({video: prompt} or [{video, prompt}]) or CSV (columns video,prompt); "
                             "otherwise a sidecar VIDEO.txt is used")
    parser.add_argument("--out", default=None, help="write tidy rows to this parquet file")
    parser.add_argument("--cache", default=None, help="cache folder: unchanged (video, metric) pairs are not recomputed")
    parser.add_argument("--weights-dir", default=None, help="folder searched first for weight files")
    parser.add_argument("--drift", action="store_true",
                        help="also print the drift per metric: start-end contrast and VDE (linear and log weights)")
    parser.add_argument("--vde-chunks", type=int, default=10, help="chunks N of VDE with --drift (default 10)")
    parser.add_argument("--device", default=None,
                        help="paper backends: where their networks run, cpu / cuda / cuda:1 (default: cuda if available)")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="paper backends: float16 / bfloat16 autocast on CUDA (default float32)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="paper backends: frames (or frame pairs) per network call (default 16)")
    parser.add_argument("--stream-frames", type=int, default=None, metavar="N",
                        help="decode and measure N frames at a time (metrics that allow it), so a long video "
                             "never sits whole in memory; streamed results bypass --cache (default: whole videos)")
    parser.add_argument("--list", action="store_true", help="list metrics, backends and availability, then exit")
    parser.set_defaults(func=main)


def load_prompts(path: str | None) -> dict[str, str]:
    """Read a prompts file: JSON mapping / list of {video, prompt}, or CSV with video,prompt columns."""
    if path is None:
        return {}
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--prompts {path}: no such file")
    if file.suffix.lower() == ".json":
        data = json.loads(file.read_text())
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
        if isinstance(data, list) and all(isinstance(d, dict) and {"video", "prompt"} <= d.keys() for d in data):
            return {str(d["video"]): str(d["prompt"]) for d in data}
        raise ValueError(f"--prompts {path}: expected a JSON object {{video: prompt}} or a list of "
                         "{\"video\": ..., \"prompt\": ...}")
    if file.suffix.lower() == ".csv":
        import pandas as pd

        table = pd.read_csv(file, dtype=str, keep_default_na=False)
        if not {"video", "prompt"} <= set(table.columns):
            raise ValueError(f"--prompts {path}: CSV needs columns video,prompt; has {list(table.columns)}")
        return dict(zip(table["video"], table["prompt"], strict=True))
    raise ValueError(f"--prompts {path}: expected a .json or .csv file")


def collect_videos(paths: list[str]) -> list[Path]:
    """Files as given (any extension, so bad files are reported) and *.mp4 under folders, sorted."""
    videos: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            videos += sorted(p for p in path.rglob("*.mp4") if p.is_file())
        else:
            videos.append(path)  # a missing file becomes a per-video error
    return videos


def error_text(metric: str, backend: str, error: str) -> str:
    """The error without a repeated "metric[backend]: " prefix (the line already names both)."""
    prefix = f"{metric}[{backend}]: "
    return error[len(prefix):] if error.startswith(prefix) else error


def score_table(scores, title: str):
    """Video scores as a rich table: a row per video, a column per metric (backend below its name);
    scores in [-1, 1] in percent, as the grid tables show them; unbounded ones (NIQE) as they are."""
    from rich.markup import escape
    from rich.table import Table

    from bench.tables import percent_scale

    table = Table(title=title, caption="percent where a score is a fraction (as in the grid tables)")
    table.add_column("video")
    columns = list(dict.fromkeys(zip(scores["metric"], scores["backend"], strict=True)))
    scale = {}
    for metric, backend in columns:
        part = scores[(scores["metric"] == metric) & (scores["backend"] == backend) & (scores["error"] == "")]
        scale[metric, backend] = percent_scale(part["value"])
        unit = " %" if scale[metric, backend] == 100.0 else ""
        table.add_column(f"{escape(metric)}{unit}\n[dim]{backend}[/]", justify="right")
    for video, part in scores.groupby("video", sort=False):
        cells = {(r.metric, r.backend): ("[red]error[/]" if r.error else f"{r.value * scale[r.metric, r.backend]:.1f}"
                                         if scale[r.metric, r.backend] == 100.0 else f"{r.value:.3g}")
                 for r in part.itertuples()}
        table.add_row(escape(Path(video).name), *(cells.get(c, "") for c in columns))
    return table


def drift_table(drift, vde_chunks: int):
    """The start–end contrast per (video, metric), in percent where the metric's values are fractions,
    and the video drift error (VDE, a ratio to the first chunk) with linear and logarithmic weights."""
    from rich.markup import escape
    from rich.table import Table

    from bench.tables import percent_scale

    table = Table(title=f"drift: Δ = |M(first 15 %) − M(last 15 %)| and VDE over {vde_chunks} chunks "
                        "(relative to the first chunk); lower is better")
    for column in ("video", "metric", "start", "end", "Δ", "VDE linear", "VDE log"):
        table.add_column(column, justify="left" if column in ("video", "metric") else "right")
    for row in drift.itertuples():
        scale = percent_scale(drift.loc[drift["metric"] == row.metric, ["start", "end"]].stack())
        unit = " %" if scale == 100.0 else ""
        cells = [f"{value * scale:.1f}" if scale == 100.0 else f"{value:.3g}" for value in (row.start, row.end, row.delta)]
        cells += [f"{getattr(row, name, float('nan')):.3g}" for name in ("vde_linear", "vde_log")]
        table.add_row(escape(Path(row.video).name), escape(f"{row.metric}{unit} [{row.backend}]"), *cells)
    return table


def list_metrics(weights_dir: str | None) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from metrics.registry import metric_classes, set_metric_classes

    table = Table(title="metrics (fpbench metrics --list; per_set: set-level, measured by grids over each row's videos)")
    for column in ("metric", "backend", "granularity", "better", "version", "available here", "what"):
        table.add_column(column)
    for cls in [*metric_classes(), *set_metric_classes()]:
        if cls.name.startswith("test_"):
            continue
        ok, reason = cls(weights_dir=weights_dir).available()
        if "never downloaded" in reason:  # a missing weights file: the short form, details in `fpbench weights`
            reason = reason.split(";")[0] + " (see fpbench weights)"
        table.add_row(cls.name, cls.backend, cls.granularity, cls.direction, cls.version,
                      "[green]yes[/]" if ok else f"[red]no[/]: {escape(reason)}", escape(cls.description))
    console = Console()  # a terminal's own width; a pipe or file gets long lines, not folded paths
    (console if console.is_terminal else Console(width=200)).print(table)
    return 0


def main(args: argparse.Namespace) -> int:
    if args.list:
        return list_metrics(args.weights_dir)
    if not args.paths:
        raise ValueError("give at least one video file or folder (or --list)")
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from metrics.drift import start_end_contrast, video_drift_error
    from metrics.evaluate import Evaluator, prompt_for
    from metrics.results import video_scores, write_results

    if args.vde_chunks < 2:
        raise ValueError(f"--vde-chunks must be >= 2, got {args.vde_chunks}")
    names = [n.strip() for n in args.metrics.split(",") if n.strip()] if args.metrics else None
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    prompts = load_prompts(args.prompts)
    videos = collect_videos(args.paths)
    if not videos:
        raise FileNotFoundError(f"no .mp4 files under {args.paths}")
    from metrics.paper.inference import InferenceSettings

    InferenceSettings(args.device, args.dtype, args.batch_size)  # a bad value is named before any video is read
    if args.stream_frames is not None and args.stream_frames < 2:
        raise ValueError(f"--stream-frames must be at least 2, got {args.stream_frames}")
    evaluator = Evaluator(names, backends, cache=args.cache, weights_dir=args.weights_dir,
                          inference={"device": args.device, "dtype": args.dtype, "batch_size": args.batch_size})
    console = Console()
    with Progress(TextColumn("[bold]measuring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as progress:
        task = progress.add_task("", total=len(videos))
        results = evaluator.evaluate_files(
            videos, prompts, on_video=lambda path: progress.update(task, advance=1, description=escape(Path(path).name)),
            chunk_frames=args.stream_frames)
    if args.out:
        write_results(results, args.out)
    scores = video_scores(results)
    console.print(score_table(scores, f"video scores ({len(videos)} videos)"))
    if args.drift and (results["kind"].isin(["frame", "pair", "triplet", "window"])).any():
        measured = results[results["error"] == ""]
        drift = start_end_contrast(measured) if len(results) else None
        if drift is not None and len(drift):
            for weighting in ("linear", "log"):
                vde = video_drift_error(measured, args.vde_chunks, weighting)[["video", "metric", "backend", "vde"]]
                drift = drift.merge(vde.rename(columns={"vde": f"vde_{weighting}"}), on=["video", "metric", "backend"],
                                    how="left")
            console.print(drift_table(drift, args.vde_chunks))
    errors = scores[scores["error"] != ""]
    for row in errors.itertuples():
        message = error_text(row.metric, row.backend, row.error)
        console.print(f"[red]error[/] {escape(f'{row.video} {row.metric}[{row.backend}]: {message}')}",
                      highlight=False, soft_wrap=True)
    unprompted = [str(v) for v in videos if not prompt_for(str(v), prompts)]
    if len(errors) and unprompted:
        console.print(f"{len(unprompted)} of {len(videos)} videos have no prompt, which semantic needs: give "
                      "--prompts FILE (JSON {\"video.mp4\": \"prompt\"} or CSV with columns video,prompt) or "
                      "write the prompt to VIDEO.txt beside each video (`fpbench generate` does)",
                      style="yellow", highlight=False, soft_wrap=True)
    if args.out:
        console.print(f"wrote {len(results)} rows to {args.out}", markup=False)
    return 1 if len(errors) else 0
