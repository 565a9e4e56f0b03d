"""Paper-style tables from a grid's finished runs.

One row per variant (the paper's row names: schedules in their notation), columns as the
paper's: global metrics (↑ or ↓ as the metric says), drift Δ (↓), and ELO-K32 (↑) with its
rank (↓) when ratings exist. Values are percentages, mean ± 95 % CI (Student t) over the
grid's videos (prompts × seeds); the best value of each column is bold. A grid with several
lengths gets one table per length.

Everything is derived from the run folders (metrics.parquet) in seconds, without running a
metric: drift comes from the stored per-frame values through the metric provider. The grid's
`metrics.aggregators` choose the drift columns (the paper's start–end Δ, VDE with linear or log
weights). Set-level metrics (`metrics.set_level`, e.g. the distance to real video) are the one
exception: they compare each row's videos as a set with real video, so they read the stored
frames; their cells carry "(set)" in the column name, have no interval, and a "real vs real
(floor)" row gives what real video itself scores.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bench.atomic_files import atomic_write_parquet, atomic_write_text
from bench.executors.run_task import stale_metrics
from bench.grid.registry import metric_provider
from bench.grid.resolve import ResolvedGrid
from bench.row_labels import row_label
from bench.run_store import DONE, RunStore

FORMATS = ("md", "latex", "csv")
STALE_REASON = "stored values were measured with another backend or metric version; `fpbench run` rescores them"
SUMMARY_COLUMNS = ["length", "row", "column", "metric", "kind", "direction", "mean", "ci_low", "ci_high",
                   "n", "best", "simulated"]


@dataclass
class GridResults:
    """A grid's finished runs, read from the store.

    Attributes:
        runs: one row per run of the grid (row, prompt, seed, length, key, state).
        values: tidy metric values of every finished run, labelled with its row/prompt/seed/length.
        scores: one row per (finished run, metric): video score and drift Δ (fractions, not %).
        directions: metric -> "higher" | "lower".
        missing: metric -> {"runs": count of finished runs where it could not be measured,
            "reason": the first recorded reason}.
        costs: one row per finished run with a compute record (row, length, key and
            `COST_COLUMNS`: network evaluations, generation and whole-run seconds, peak memory).
    """

    runs: pd.DataFrame
    values: pd.DataFrame
    scores: pd.DataFrame
    directions: dict[str, str]
    missing: dict[str, dict[str, Any]]
    set_level: pd.DataFrame | None = None
    costs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "length", "key", *COST_COLUMNS]))


VDE_AGGREGATORS = {"vde_linear": "linear", "vde_log": "log"}
AGGREGATOR_LABELS = {"start_end": "Δ {} ↓", "vde_linear": "VDE {} ↓", "vde_log": "VDE-log {} ↓"}
FLOOR_ROW = "real vs real (floor)"


# What a video of a row costs, from each run's compute record (bench/executors/compute.py).
COST_COLUMNS = {"nfe": "NFE", "generate_seconds": "Generate s", "video_seconds": "Video s", "peak_memory_mb": "Peak MiB"}


def run_costs(row: str, length: str, key: str, compute: dict[str, Any]) -> dict[str, Any]:
    """One finished run's costs: NFE, generation seconds (decode included), the whole run's seconds
    (generate, encode, metrics, write; loading the model is shared by a worker's runs), peak MiB."""
    seconds = compute.get("seconds", {})
    return {"row": row, "length": length, "key": key, "nfe": compute.get("network_evaluations", math.nan),
            "generate_seconds": seconds.get("generate", math.nan),
            "video_seconds": sum(seconds.get(p, 0.0) for p in ("generate", "encode", "metrics", "write")),
            "peak_memory_mb": compute.get("peak_memory_mb", math.nan)}


def collect_results(grid: ResolvedGrid, store: RunStore | None = None) -> GridResults:
    """Read every finished run of `grid` from the store (default: the grid's `store:`).

    Each run's metrics.parquet is read once; drift is computed for all runs in one
    vectorised call of the metric provider.
    """
    store = store or RunStore(grid.spec.store)
    provider = metric_provider(grid.spec.metrics.provider)
    run_rows, stored, missing, costs = [], {}, {}, []
    for run in grid.runs:
        status = store.status(run.key)
        run_rows.append({"row": run.row_name, "prompt": run.prompt.id, "seed": run.seed,
                         "length": run.length.name, "key": run.key, "state": status.state})
        if status.state != DONE or run.key in stored:
            continue
        if "compute" in status.info:
            costs.append(run_costs(run.row_name, run.length.name, run.key, status.info["compute"]))
        stale = stale_metrics(run, status)
        for metric in stale:
            entry = missing.setdefault(metric, {"runs": 0, "reason": STALE_REASON})
            entry["runs"] += 1
        for metric, reason in status.info.get("missing_metrics", {}).items():
            if metric in grid.spec.metrics.names and metric not in stale:
                entry = missing.setdefault(metric, {"runs": 0, "reason": reason})
                entry["runs"] += 1
        stored[run.key] = measured_as_asked(store.read_metrics(run.key), run, stale).assign(video=run.key)
    runs = pd.DataFrame(run_rows, columns=["row", "prompt", "seed", "length", "key", "state"])
    cost_frame = pd.DataFrame(costs, columns=["row", "length", "key", *COST_COLUMNS])
    done = runs[runs["state"] == DONE].drop(columns="state")
    score_columns = ["row", "prompt", "seed", "length", "key", "metric", "score", "drift"]
    if not stored:
        return GridResults(runs=runs, values=pd.DataFrame(), scores=pd.DataFrame(columns=score_columns),
                           directions={}, missing=missing, costs=cost_frame)
    all_values = pd.concat(stored.values(), ignore_index=True)
    drift = provider.drift(all_values)
    videos = all_values[all_values["kind"] == "video"][["video", "metric", "value"]].rename(
        columns={"video": "key", "value": "score"})
    videos = videos.merge(drift.rename(columns={"video": "key"}), on=["key", "metric"], how="left")
    for aggregator in grid.spec.metrics.aggregators:
        if aggregator in VDE_AGGREGATORS:
            table = provider.vde(all_values, grid.spec.metrics.vde_chunks, VDE_AGGREGATORS[aggregator])
            videos = videos.merge(table.rename(columns={"video": "key", "vde": aggregator}), on=["key", "metric"],
                                  how="left")
            score_columns.append(aggregator)
    scores = done.merge(videos, on="key", how="inner")[score_columns]
    values = done.merge(all_values, left_on="key", right_on="video", how="inner").drop(columns="key")
    measured = set(scores["metric"])
    directions = {name: provider.info(name, grid.spec.metrics.backend).direction
                  for name in grid.spec.metrics.names if name in measured}
    set_level = None
    if grid.spec.metrics.set_level:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from bench.grid.set_level import set_level_results

        with Progress(TextColumn("set-level metrics {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("", total=len(grid.spec.lengths) * len(grid.row_names))
            # Per-video features cached by content in the store (a dot folder: not a run).
            set_level = set_level_results(grid.spec, grid.runs, grid.row_names, store,
                                          cache=str(store.root / ".set_level_cache"),
                                          on_set=lambda name: progress.update(task, advance=1, description=name))
        for metric, errors in set_level[set_level["kind"] == "error"].groupby("metric"):
            missing[f"{metric} (set)"] = {"runs": len(errors), "reason": errors["error"].iloc[0]}
    return GridResults(runs=runs, values=values, scores=scores.reset_index(drop=True),
                       directions=directions, missing=missing, set_level=set_level, costs=cost_frame)


def measured_as_asked(values: pd.DataFrame, run: Any, stale: tuple[str, ...]) -> pd.DataFrame:
    """A run's stored values of the grid's metrics that were made as the grid asks (the backend
    and version its measurements name); a value made otherwise never reaches a table."""
    keep = values["metric"].isin([m for m in run.metrics.names if m not in stale]).to_numpy().copy()
    if run.measurements:
        # one vectorised lookup of (metric, backend, version); a comparison per metric took 40 ms a run
        measured = values["metric"].isin(list(run.measurements)).to_numpy()
        made_so = pd.MultiIndex.from_frame(values[["metric", "backend", "version"]]).isin(
            [(metric, m["backend"], m["version"]) for metric, m in run.measurements.items()])
        keep &= ~measured | made_so
    return values[keep]


def mean_ci(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) of a Student-t interval; the interval is NaN for fewer than 2 samples."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = float(samples.mean())
    if len(samples) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(samples) - 1) * samples.std(ddof=1) / math.sqrt(len(samples)))
    return mean, mean - half, mean + half


def metric_label(metric: str) -> str:
    return metric.replace("_", " ").capitalize()


def summarise(results: GridResults, grid: ResolvedGrid, ratings: pd.DataFrame | None = None,
              cost: bool = False) -> pd.DataFrame:
    """The table in long form: one row per (length, variant, column), with mean, CI, n, best.

    Args:
        results: from `collect_results`.
        grid: the grid (row order, metric order, drift metrics).
        ratings: optional leaderboard with columns model, elo, rank (and simulated).
        cost: add what a video costs (`COST_COLUMNS`, mean over the row's runs; lower is better).

    Metrics with scores in [0, 1] and their drift are in percent (others, such as NIQE, as
    they are); ELO in rating points; rank as is.
    """
    records = []
    metrics = [m for m in grid.spec.metrics.names if m in results.directions]
    scale = {m: percent_scale(results.scores.loc[results.scores["metric"] == m, "score"]) for m in metrics}
    drift_metrics = [m for m in grid.spec.metrics.drift if m in results.directions]
    for length in grid.spec.lengths:
        for row in grid.row_names:
            scores = results.scores[(results.scores["row"] == row) & (results.scores["length"] == length.name)]
            for metric in metrics:
                samples = scores.loc[scores["metric"] == metric, "score"].to_numpy() * scale[metric]
                records.append(_record(length.name, row, f"{metric_label(metric)} {_arrow(results.directions[metric])}".strip(),
                                       metric, "global", results.directions[metric], samples))
            for metric in drift_metrics:
                for aggregator in grid.spec.metrics.aggregators:
                    column, factor = ("drift", scale[metric]) if aggregator == "start_end" else (aggregator, 100.0)
                    if column not in scores.columns:
                        continue
                    samples = scores.loc[scores["metric"] == metric, column].dropna().to_numpy() * factor
                    records.append(_record(length.name, row, AGGREGATOR_LABELS[aggregator].format(metric_label(metric)),
                                           metric, "drift" if aggregator == "start_end" else aggregator, "lower",
                                           samples))
            records += set_level_records(results.set_level, length.name, row)
            if ratings is not None and len(ratings):
                board = ratings.set_index("model")
                simulated = bool(board["simulated"].any()) if "simulated" in board else False
                tag = " (simulated)" if simulated else ""
                if row in board.index:
                    elo, rank = float(board.loc[row, "elo"]), float(board.loc[row, "rank"])
                    records.append({**_record(length.name, row, f"ELO-K32{tag} ↑", "elo", "rating", "higher",
                                              np.array([elo])), "simulated": simulated})
                    records.append({**_record(length.name, row, f"Rank{tag} ↓", "rank", "rating", "lower",
                                              np.array([rank])), "simulated": simulated})
            if cost:
                spent = results.costs[(results.costs["row"] == row) & (results.costs["length"] == length.name)]
                for name, label in COST_COLUMNS.items():
                    records.append(_record(length.name, row, f"{label} ↓", name, "cost", "lower",
                                           spent[name].dropna().to_numpy(dtype=np.float64)))
        records += set_level_floor_records(results.set_level, length.name)
    summary = pd.DataFrame(records, columns=SUMMARY_COLUMNS)
    summary["best"] = False
    references = set(grid.reference_row_names)  # they show a column's ceiling and floor; they are not ranked
    for (_, _), group in summary.groupby(["length", "column"], sort=False):
        valid = group[(group["row"] != FLOOR_ROW) & (group["direction"] != "neutral")
                      & ~group["row"].isin(references)].dropna(subset=["mean"])
        if len(valid) < 2:
            continue
        if np.isclose(valid["mean"].max(), valid["mean"].min(), rtol=0, atol=1e-9):
            continue  # every row is equal: nothing is best
        target = valid["mean"].max() if valid["direction"].iloc[0] == "higher" else valid["mean"].min()
        summary.loc[valid.index[np.isclose(valid["mean"], target, rtol=0, atol=1e-9)], "best"] = True
    return summary


def set_level_records(set_level: pd.DataFrame | None, length: str, row: str) -> list[dict]:
    """Summary records of the set-level metrics of one (length, row): the value at the end of the
    video and the start–end contrast, one number over all the row's videos (kind "set")."""
    if set_level is None or set_level.empty:
        return []
    records = []
    part = set_level[(set_level["length"] == length) & (set_level["set"] == row)]
    for metric, rows in part.groupby("metric", sort=False):
        for kind, column in (("end", f"{metric_label(metric)} end (set) ↓"), ("contrast", f"Δ {metric_label(metric)} (set) ↓")):
            values = rows.loc[rows["kind"] == kind, "value"].dropna().to_numpy()
            record = _record(length, row, column, metric, "set", "lower", values[:1])
            record["n"] = int(rows["videos"].max()) if len(values) else 0
            records.append(record)
    return records


def set_level_floor_records(set_level: pd.DataFrame | None, length: str) -> list[dict]:
    """The "real vs real (floor)" row: each set-level column's floor (the same for every row of a length)."""
    if set_level is None or set_level.empty:
        return []
    records = []
    part = set_level[(set_level["length"] == length) & set_level["kind"].isin(["end", "contrast"])]
    for metric, rows in part.groupby("metric", sort=False):
        for kind, column in (("end", f"{metric_label(metric)} end (set) ↓"), ("contrast", f"Δ {metric_label(metric)} (set) ↓")):
            floors = rows.loc[rows["kind"] == kind, "floor"].dropna().to_numpy()
            records.append({**_record(length, FLOOR_ROW, column, metric, "set", "lower", floors[:1]), "n": 0})
    return records


def percent_scale(scores: pd.Series) -> float:
    """100 for a metric whose video scores lie in [-1, 1] (fractions, cosines: shown in percent, as the
    paper does); 1 for an unbounded one (e.g. NIQE), shown as is."""
    values = scores.to_numpy(dtype=np.float64)
    return 100.0 if len(values) and np.abs(values).max() <= 1 + 1e-9 else 1.0


def _arrow(direction: str) -> str:
    return {"higher": "↑", "lower": "↓"}.get(direction, "")


def _record(length: str, row: str, column: str, metric: str, kind: str, direction: str, samples: np.ndarray) -> dict:
    if len(samples) == 0:
        mean = low = high = math.nan
    else:
        mean, low, high = mean_ci(samples)
    return {"length": length, "row": row, "column": column, "metric": metric, "kind": kind, "direction": direction,
            "mean": mean, "ci_low": low, "ci_high": high, "n": int(len(samples)), "best": False, "simulated": False}


def cell_text(record: pd.Series, plus_minus: str = " ± ", decimals: int = 2) -> str:
    """One cell of the table: "52.35 ± 10.96", "1026" for a rating, "–" when nothing was measured."""
    if pd.isna(record["mean"]):
        return "–"
    if record["kind"] == "rating":
        return f"{record['mean']:.0f}"
    if record["kind"] == "set":
        return f"{record['mean']:.3g}"  # one number per set, no interval
    if pd.isna(record["ci_low"]):
        return f"{record['mean']:.{decimals}f}"
    return f"{record['mean']:.{decimals}f}{plus_minus}{(record['ci_high'] - record['ci_low']) / 2:.{decimals}f}"


def _cell(record: pd.Series, bold: tuple[str, str], plus_minus: str) -> str:
    text = cell_text(record, plus_minus)
    return f"{bold[0]}{text}{bold[1]}" if record["best"] and text != "–" else text


def wide_table(summary: pd.DataFrame, length: str, fmt: str = "md") -> pd.DataFrame:
    """One length's table as a DataFrame of formatted cells (rows = variants)."""
    bold, plus_minus = {"md": (("**", "**"), " ± "), "latex": ((r"\textbf{", "}"), r" $\pm$ ")}.get(fmt, (("", ""), " ± "))
    part = summary[summary["length"] == length]
    columns = list(dict.fromkeys(part["column"]))
    rows = list(dict.fromkeys(part["row"]))
    table = pd.DataFrame(index=rows, columns=columns, dtype=object)
    for _, record in part.iterrows():
        table.loc[record["row"], record["column"]] = _cell(record, bold, plus_minus)
    return table.fillna("–")


def render(summary: pd.DataFrame, fmt: str = "md", title: str = "",
           missing: dict[str, dict[str, Any]] | None = None) -> str:
    """The table(s) as markdown, LaTeX or CSV text (CSV: the long form, one number per cell).

    `missing` (from `GridResults.missing`) adds a note per metric that could not be measured
    in some runs (md and LaTeX)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        summary.to_csv(buffer, index=False)
        return buffer.getvalue()
    lengths = list(dict.fromkeys(summary["length"]))
    blocks = []
    for length in lengths:
        table = wide_table(summary, length, fmt)
        n = summary.loc[(summary["length"] == length) & (summary["kind"] != "rating"), "n"]
        caption = f"{title} — {length} videos; percent, mean ± 95 % CI over {int(n.max()) if len(n) else 0} videos per row"
        if (summary.loc[summary["length"] == length, "kind"] == "cost").any():
            caption += "; cost columns per video in their own units"
        if summary.loc[summary["length"] == length, "simulated"].any():
            caption += "; ELO from SIMULATED judges, not human votes"
        if (summary.loc[summary["length"] == length, "kind"] == "set").any():
            caption += ("; (set): set-level, one value per row over all its videos vs real video from the same start "
                        "frames (no interval), the floor row is real vs real")
        blocks.append(_markdown(table, caption) if fmt == "md" else _latex(table, caption))
    notes = [f"{metric}: not measured in {entry['runs']} run(s) — {entry['reason']}"
             for metric, entry in (missing or {}).items()]
    if notes and fmt == "md":
        blocks.append("\n".join(f"- {note}" for note in notes) + "\n")
    elif notes:
        blocks.append("\n".join(f"% {note}" for note in notes) + "\n")
    return "\n".join(blocks)


def _markdown(table: pd.DataFrame, caption: str) -> str:
    header = "| variant | " + " | ".join(table.columns) + " |"
    rule = "|---|" + "|".join("---:" for _ in table.columns) + "|"
    lines = [f"**{caption}**", "", header, rule]
    for row, cells in table.iterrows():
        lines.append(f"| {row_label(row, ('`', '`'))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("↑", r"$\uparrow$"), ("↓", r"$\downarrow$"), ("Δ", r"$\Delta$")):
        text = text.replace(a, b)
    return text


def _latex(table: pd.DataFrame, caption: str) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             "Variant & " + " & ".join(_latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    for row, cells in table.iterrows():
        label = row_label(str(row), ("\x00", "\x01"))  # placeholders: \texttt{...} must not be escaped
        lines.append(_latex_escape(label).replace("\x00", r"\texttt{").replace("\x01", "}").replace("—", "--")
                     + " & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _latex_escape(caption) + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_values_parquet(path: Path, values: pd.DataFrame) -> None:
    """values.parquet, the largest file of a results folder, compact and lossless for what it holds:
    each value (per frame, window or video) as float32, whose seven significant digits are more than
    any metric resolves; that column byte-stream-split (random floats defeat a dictionary) and zstd
    over everything. A paper table's file: 13.5 MB as float64 with the defaults, 5.2 MB so."""
    if "value" not in values.columns:  # no finished run
        atomic_write_parquet(path, values)
        return
    atomic_write_parquet(path, values.astype({"value": "float32"}), compression="zstd", compression_level=9,
                         use_byte_stream_split=["value"],
                         use_dictionary=[column for column in values.columns if column != "value"])


def results_dir(grid: ResolvedGrid, root: str | Path = "results") -> Path:
    """results/<grid name>/"""
    return Path(root) / grid.name


def find_ratings(grid: ResolvedGrid, out_dir: Path) -> pd.DataFrame | None:
    """The grid's leaderboard if ratings exist: `rating.votes` (a ratings.parquet or a folder
    holding one) or results/<grid>/ratings/ratings.parquet."""
    candidates = []
    if grid.spec.rating.votes:
        votes = Path(grid.spec.rating.votes)
        candidates.append(votes if votes.suffix == ".parquet" else votes / "ratings.parquet")
    candidates.append(out_dir / "ratings" / "ratings.parquet")
    for path in candidates:
        if path.is_file():
            return pd.read_parquet(path)
    return None


def write_tables(grid: ResolvedGrid, store: RunStore | None = None, out_root: str | Path = "results",
                 ratings: pd.DataFrame | None = None, cost: bool = False,
                 results: GridResults | None = None) -> dict[str, Any]:
    """Collect, summarise and save a grid's table under results/<grid>/.

    Writes table.md, table.tex, table.csv (long form), summary.parquet, scores.parquet
    (per run × metric) and values.parquet (every stored per-frame value), atomically.
    `results`: the grid's `collect_results`, when the caller has it already (reading a paper
    table's 1500 runs from the store takes about two minutes).

    Returns:
        {"summary": DataFrame, "results": GridResults, "paths": {name: Path}, "markdown": str}
    """
    out_dir = results_dir(grid, out_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    if results is None:
        results = collect_results(grid, store)
    if ratings is None:
        ratings = find_ratings(grid, out_dir)
    summary = summarise(results, grid, ratings, cost)
    title = f"{grid.name}"
    paths = {
        "md": out_dir / "table.md", "latex": out_dir / "table.tex", "csv": out_dir / "table.csv",
        "summary": out_dir / "summary.parquet", "scores": out_dir / "scores.parquet",
        "values": out_dir / "values.parquet",
    }
    if results.set_level is not None:
        paths["set_level"] = out_dir / "set_level.parquet"
    texts = {fmt: render(summary, fmt, title, results.missing) for fmt in FORMATS}
    atomic_write_text(paths["md"], texts["md"])
    atomic_write_text(paths["latex"], texts["latex"])
    atomic_write_text(paths["csv"], texts["csv"])
    for name, frame in (("summary", summary), ("scores", results.scores), ("set_level", results.set_level)):
        if name in paths:
            atomic_write_parquet(paths[name], frame)
    write_values_parquet(paths["values"], results.values)
    return {"summary": summary, "results": results, "paths": paths, "texts": texts}
