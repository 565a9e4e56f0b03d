"""The one-command demo: run grids/demo.yaml on the lab world, rate it with simulated judges,
print the table and save it, with a figure of sample frames and drift curves, under
results/<grid>/ (results/demo/ for the shipped grid).

Every step is the ordinary harness: `load_and_resolve` (validation before any work),
`run_grid` (resumable), `write_tables`; the rating round uses bench.ratings / bench.votes'
simulated judges and is labelled SIMULATED everywhere.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.atomic_files import atomic_write
from bench.executors import make_executor, run_grid
from bench.grid import ResolvedGrid, load_and_resolve, metric_provider
from bench.row_labels import row_label
from bench.run_store import RunStore
from bench.tables import GridResults, collect_results, percent_scale, results_dir, write_tables

DEFAULT_GRID = "grids/demo.yaml"


@dataclass
class DemoResult:
    """What the demo produced."""

    grid: ResolvedGrid
    summary: Any
    tables: dict[str, Any]
    ratings: Any | None
    figure: Path | None
    seconds: float


def row_quality(results: GridResults, grid: ResolvedGrid) -> dict[str, float]:
    """One quality number per row for simulated judges: the mean over metrics of the row's
    z-scored global metric means (signed by direction; "neutral" scores such as mean lightness have
    no better side and are left out) and drift means (lower is better). Reference rows (real clips,
    static video) are not judged."""
    ranked = grid.ranked_row_names
    scores = results.scores[results.scores["metric"].isin(results.directions) & results.scores["row"].isin(ranked)]
    if scores.empty:
        raise ValueError("no finished runs with metrics: nothing for simulated judges to judge")
    parts = []
    for metric, direction in results.directions.items():
        if direction != "neutral":
            means = scores[scores["metric"] == metric].groupby("row")["score"].mean()
            parts.append(_zscore(means) * (1 if direction == "higher" else -1))
        if metric in grid.spec.metrics.drift:
            drift = scores[scores["metric"] == metric].groupby("row")["drift"].mean()
            parts.append(-_zscore(drift))
    quality = pd.concat(parts, axis=1).mean(axis=1)
    return {row: float(quality[row]) for row in ranked if row in quality.index}


def _zscore(series: pd.Series) -> pd.Series:
    std = series.std(ddof=0)
    return (series - series.mean()) / std if std > 0 else series * 0.0


def simulated_rating_round(results: GridResults, grid: ResolvedGrid, out_dir: Path, votes_seed: int | None = None) -> Any:
    """A/B votes from simulated judges whose preference follows the rows' lab-metric quality
    plus noise; ELO-K32 and the rest via bench.ratings. Written to out_dir/ratings/."""
    from bench.ratings import RatingConfig, compute_ratings, write_report
    from bench.votes.simulate import simulate_battles, strengths_from_scores

    rating = grid.spec.rating
    quality = row_quality(results, grid)
    if len(quality) < 2:
        return None
    strengths = strengths_from_scores(quality, spread=100.0)
    n_votes = math.ceil(rating.per_row * len(quality) / 2)
    seed = rating.seed if votes_seed is None else votes_seed
    battles = simulate_battles(strengths, n_votes, seed=seed, judges=5, judge_noise=25.0, tie_rate=0.05,
                               both_bad_rate=0.02)
    report = compute_ratings(battles, RatingConfig(k=rating.k, permutations=200, bootstrap=200, seed=seed))
    target = out_dir / "ratings"
    write_report(report, target)
    battles.to_parquet(target / "battles.parquet", index=False)
    return report


def demo_figure(grid: ResolvedGrid, results: GridResults, store: RunStore, path: Path,
                windows: int = 10, samples: int = 6) -> Path | None:
    """Write `draw_demo_figure` to `path` (PNG, atomically); None when no run is finished."""
    import matplotlib.pyplot as plt

    figure = draw_demo_figure(grid, results, store, windows, samples)
    if figure is None:
        return None
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=110, bbox_inches="tight"))
    plt.close(figure)
    return path


def draw_demo_figure(grid: ResolvedGrid, results: GridResults, store: RunStore, windows: int = 10,
                     samples: int = 6):
    """Sample frames of every row (first prompt and seed, longest length) and the mean
    per-window drift curves of each drift metric per row, the legend below the curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.figures.style import cap_percent_axis

    done = results.runs[results.runs["state"] == "done"]
    if done.empty:
        return None
    length = grid.spec.lengths[-1].name
    first = done[done["length"] == length].iloc[0]
    example = done[(done["length"] == length) & (done["prompt"] == first["prompt"]) & (done["seed"] == first["seed"])]
    provider = metric_provider(grid.spec.metrics.provider)
    drift_metrics = [m for m in grid.spec.metrics.drift if m in results.directions]
    curves = []
    long_values = results.values[results.values["length"] == length] if len(results.values) else results.values
    for (row, key), values in long_values.groupby(["row", "video"], sort=False) if len(long_values) else []:
        curve = provider.curves(values[values["metric"].isin(drift_metrics)], windows)
        curves.append(curve.assign(row=row, key=key))
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["metric", "window", "value", "row"])

    rows = [r for r in grid.row_names if r in set(example["row"])]
    n_curves = max(1, len(drift_metrics))
    figure = plt.figure(figsize=(max(2.0 * samples, 4.0 * n_curves), 1.6 * len(rows) + 3.2))
    grid_spec = figure.add_gridspec(len(rows) + 2, max(samples, n_curves) * n_curves,
                                    height_ratios=[1.0] * len(rows) + [0.25, 2.0])
    for r, row in enumerate(rows):
        key = example.loc[example["row"] == row, "key"].iloc[0]
        frames = store.read_frames(key)
        picks = np.linspace(0, len(frames) - 1, samples).round().astype(int)
        for c, index in enumerate(picks):
            axis = figure.add_subplot(grid_spec[r, c * n_curves:(c + 1) * n_curves])
            axis.imshow(frames[index])
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(f"frame {index}", fontsize=8)
            if c == 0:
                axis.set_ylabel(row_label(row).replace(" — ", "\n"), fontsize=6, rotation=0, ha="right", va="center")
    span = max(samples, n_curves)
    for m, metric in enumerate(drift_metrics):
        axis = figure.add_subplot(grid_spec[len(rows) + 1, m * span:(m + 1) * span])
        part = curves[curves["metric"] == metric]
        scale = percent_scale(part["value"].dropna())  # fractions and cosines in percent, as in the table
        for row in grid.row_names:
            mean = part[part["row"] == row].groupby("window")["value"].mean()
            if len(mean):
                axis.plot(mean.index, mean.to_numpy() * scale, marker=".", label=row_label(row))
        axis.set_title(f"{metric} per window{' (%)' if scale == 100.0 else ''}", fontsize=9)
        axis.set_xlabel("window (start → end)", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.ticklabel_format(axis="y", useOffset=False)
        if scale == 100.0:
            cap_percent_axis(axis)
    if drift_metrics:  # below the curves, never on them
        handles, labels = figure.axes[-1].get_legend_handles_labels()
        figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4),
                      fontsize=7, frameon=False)
    figure.suptitle(f"{grid.name}: sample frames ({first['prompt']}, seed {first['seed']}, {length}) and drift curves",
                    fontsize=10)
    return figure


def run_demo(grid_path: str | Path = DEFAULT_GRID, overrides: tuple[str, ...] | list[str] = (),
             executor: Any = None, store_root: str | None = None, results_root: str | Path = "results",
             progress: bool = True, rating: bool = True, skip_missing: bool = False,
             paper_figures: bool = True) -> DemoResult:
    """Run the demo grid end to end.

    Args:
        grid_path: the grid (default grids/demo.yaml).
        overrides: `--set key=value` strings.
        executor: from `bench.executors.make_executor` (default sequential).
        store_root: run store (default the grid's `store:`).
        results_root: tables, ratings and the figure go to results_root/<grid>/.
        progress: draw progress bars.
        rating: run the simulated-judge A/B round when the grid's `rating.enabled` is true.
        skip_missing: leave out rows whose checkpoint is missing (`grid.skipped_rows` says which).
        paper_figures: also draw every paper-figure analogue (`fpbench figures`) into
            results_root/<grid>/figures/, so one command regenerates all committed outputs.
    """
    started = time.time()
    grid = load_and_resolve(grid_path, overrides, skip_missing=skip_missing)
    store = RunStore(store_root or grid.spec.store)
    summary = run_grid(grid, store_root=str(store.root), executor=executor or make_executor("local"),
                       progress=progress)
    out_dir = results_dir(grid, results_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = collect_results(grid, store)
    report = None
    if rating and grid.spec.rating.enabled and grid.spec.rating.judges == "simulated":
        report = simulated_rating_round(results, grid, out_dir)
    tables = write_tables(grid, store, out_root=results_root,
                          ratings=report.leaderboard if report is not None else None, results=results)
    figure = demo_figure(grid, tables["results"], store, out_dir / "demo.png")
    if paper_figures:
        from bench.figures import grid_figures

        grid_figures(grid_path, results_root=results_root, store=store.root, overrides=overrides,
                     refresh_tables=False)
    return DemoResult(grid=grid, summary=summary, tables=tables, ratings=report, figure=figure,
                      seconds=time.time() - started)
