"""`fpbench figures`: every figure of a grid, from files on disk, as PNG and PDF.

For a grid file:

* from its schedules (parsed, no checkpoint or run needed): one Figure 1 analogue per schedule
  (`schedule_<schedule>`), one Figure 2 analogue per sampling order a row uses (`order_<order>_<schedule>`,
  drawn from `plan_sections`), and the context-length plot of all its schedules (`context_length`);
* from its results (results/<grid>/, refreshed from the run store first when the grid resolves and
  has finished runs there): per length the table (`table_<length>`), the drift curves
  (`drift_<length>`) and a sample strip (`samples_<length>`, needs the run store's frames); and,
  when a rating round exists, the ratings with intervals (`ratings`) and the win-rate matrix
  (`win_rate`).

A figure that cannot be drawn is listed with the reason (never silently left out); `figures.json`
in the output folder records what was written and what was skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.analysis.results_folder import ResultsNotFoundError, load_results
from bench.atomic_files import atomic_write_text
from bench.figures.context_length import draw_context_length
from bench.figures.drift_curves import draw_drift_curves
from bench.figures.order_diagram import draw_order, plan_for_order
from bench.figures.ratings import draw_rating_intervals, draw_win_rate_matrix
from bench.figures.reference_curves import draw_reference_curves
from bench.figures.sample_strips import DEFAULT_TIMES, draw_sample_strip
from bench.figures.schedule_diagram import draw_schedule
from bench.figures.style import save_figure, slug
from bench.figures.table_figure import draw_table
from bench.grid import GridSpec, load_and_resolve, load_grid
from bench.run_store import RunStore

MANIFEST = "figures.json"


@dataclass
class FigureReport:
    """What `grid_figures` did for one grid.

    Attributes:
        grid: the grid's name.
        out_dir: where the figures went.
        written: figure name -> files written (PNG, PDF).
        skipped: figure name (or group) -> why it was not drawn.
        notes: other facts worth knowing (e.g. why the tables were not refreshed from the run store).
    """

    grid: str
    out_dir: Path
    written: dict[str, list[Path]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"grid": self.grid,
                "figures": {name: [p.name for p in paths] for name, paths in self.written.items()},
                "skipped": dict(self.skipped), "notes": dict(self.notes)}


@dataclass(frozen=True)
class FigureOptions:
    """Drawing settings shared by every grid.

    Attributes:
        latent_hw: latent (height, width) for token counts (the lab codec's is 8 × 8).
        lam: λ of the closed-form bound.
        sections: sections in the Figure 2 analogues.
        max_history: history lengths 0..max_history in the context-length plot.
        windows: windows per video in the drift curves.
        times: fractions of the video in the sample strips.
    """

    latent_hw: tuple[int, int] = (8, 8)
    lam: float = 2.0
    sections: int = 4
    max_history: int = 64
    windows: int = 10
    times: tuple[float, ...] = DEFAULT_TIMES


def schedule_rows(spec: GridSpec) -> list[tuple[str, str]]:
    """(schedule, order) of every FramePack row, in row order, without duplicates."""
    from bench.grid.framepack_rows import resolved_order

    pairs = []
    for row in spec.rows:
        if row.kind == "framepack" and row.schedule:
            pair = (row.schedule, resolved_order(row))
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def grid_figures(grid_path: str | Path, out_dir: str | Path | None = None, results_root: str | Path = "results",
                 store: str | Path | None = None, overrides: Sequence[str] = (),
                 options: FigureOptions = FigureOptions(),
                 on_figure: Callable[[str], None] | None = None, refresh_tables: bool = True) -> FigureReport:
    """Draw every figure of a grid (see the module docstring).

    Args:
        grid_path: the grid YAML.
        out_dir: output folder (default results_root/<grid>/figures).
        results_root: where `fpbench table` / `fpbench demo` wrote results/<grid>/.
        store: run store folder (default the grid's `store:`), for refreshing tables and frames.
        overrides: `--set key=value` strings, as for the other grid commands.
        options: drawing settings.
        on_figure: called with each figure's name after it is written (progress).
        refresh_tables: rewrite results/<grid>/ from the store first (see `_refresh_tables`); False
            when the caller has just written them (`fpbench demo`, `fpbench study`).

    Raises:
        GridError / FileNotFoundError: the grid file is missing or malformed.
    """
    spec = load_grid(grid_path, overrides)
    results_dir = Path(results_root) / spec.name
    out = Path(out_dir) if out_dir is not None else results_dir / "figures"
    report = FigureReport(spec.name, out)

    def emit(name: str, draw: Callable[[], object]) -> None:
        try:
            figure = draw()
        except (ValueError, FileNotFoundError, KeyError) as error:
            report.skipped[name] = str(error).strip().splitlines()[0]
            return
        report.written[name] = save_figure(figure, out / name)
        if on_figure is not None:
            on_figure(name)

    pairs = schedule_rows(spec)
    has_start = spec.prompts.split == "i2v" or spec.prompts.source == "file"
    for schedule in dict.fromkeys(s for s, _ in pairs):
        emit(f"schedule_{slug(schedule)}", lambda s=schedule: draw_schedule(s, options.latent_hw, options.lam))
    for schedule, order in pairs:
        emit(f"order_{order}_{slug(schedule)}",
             lambda s=schedule, o=order: draw_order(plan_for_order(s, o, options.sections, has_start=has_start)))
    if pairs:
        emit("context_length", lambda: draw_context_length(list(dict.fromkeys(s for s, _ in pairs)),
                                                           options.latent_hw, options.max_history, options.lam))
    else:
        report.skipped["schedule figures"] = "the grid has no FramePack (schedule) rows"

    if refresh_tables:
        run_store = _refresh_tables(grid_path, overrides, results_root, store, report)
    else:
        run_store = RunStore(store) if store else None
    try:
        results = load_results(results_dir)
    except ResultsNotFoundError as error:
        report.skipped["result figures"] = str(error)
    else:
        title = spec.name
        drift_metrics = results.drift_metrics or list(results.directions)
        for length in results.lengths:
            emit(f"table_{slug(length)}", lambda n=length: draw_table(results.summary, n, title))
            emit(f"drift_{slug(length)}", lambda n=length: draw_drift_curves(
                results.values, results.rows, drift_metrics, n, options.windows, title))
            emit(f"samples_{slug(length)}", lambda n=length: _sample_strip(results, n, run_store, options, title))
            if (results_dir / "set_level.parquet").is_file():
                set_level = pd.read_parquet(results_dir / "set_level.parquet")
                emit(f"reference_{slug(length)}", lambda n=length, s=set_level: draw_reference_curves(
                    s, results.rows, n, title))
        if results.has_ratings:
            board = results.ratings["ratings"]
            k = float(results.rating_summary.get("config", {}).get("k", 32.0))
            emit("ratings", lambda: draw_rating_intervals(board, k, title))
            if "pairs" in results.ratings:
                order = list(board.sort_values("elo", ascending=False)["model"])
                emit("win_rate", lambda: draw_win_rate_matrix(results.ratings["pairs"], order, title,
                                                              results.simulated_ratings))
        else:
            report.skipped["ratings"] = f"no rating round in {results_dir / 'ratings'} (run `fpbench rate` or the demo)"

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MANIFEST, json.dumps(report.to_json(), indent=2) + "\n")
    return report


def _refresh_tables(grid_path, overrides, results_root, store, report: FigureReport) -> RunStore | None:
    """Rewrite results/<grid>/ from the run store when the grid resolves and the store holds at least
    as many finished runs as the saved results; otherwise keep the files as they are (e.g. committed
    results on a fresh clone)."""
    from bench.tables import write_tables

    try:
        grid = load_and_resolve(grid_path, overrides)
    except (ValueError, FileNotFoundError) as error:
        report.notes["table refresh"] = f"grid does not resolve here ({str(error).splitlines()[0]}); using saved results"
        return RunStore(store) if store else None
    run_store = RunStore(store or grid.spec.store)
    finished = len({run.key for run in grid.runs if run_store.status(run.key).done})
    saved_scores = Path(results_root) / grid.name / "scores.parquet"
    saved = int(pd.read_parquet(saved_scores, columns=["key"])["key"].nunique()) if saved_scores.is_file() else 0
    if finished == 0:
        report.notes["table refresh"] = f"no finished run of the grid in the store {run_store.root}; using saved results"
    elif finished < saved:
        # Never replace complete saved results with a partial store's (e.g. a half re-run on another machine).
        report.notes["table refresh"] = (f"the store {run_store.root} holds {finished} finished runs, the saved "
                                         f"results {saved}; using saved results")
    else:
        write_tables(grid, run_store, out_root=results_root)
    return run_store


def _sample_strip(results, length: str, store: RunStore | None, options: FigureOptions, title: str):
    if store is None:
        raise FileNotFoundError("no run store to read frames from")
    scores = results.scores[results.scores["length"] == length]
    if scores.empty:
        raise ValueError(f"no finished runs of length {length!r}")
    first = scores.iloc[0]
    same = scores[(scores["prompt"] == first["prompt"]) & (scores["seed"] == first["seed"])]
    keys = same.drop_duplicates("row").set_index("row")["key"]
    rows = [(row, keys[row]) for row in results.rows if row in keys.index]
    absent = [key for _, key in rows if not store.run_dir(key).is_dir()]
    if absent:
        raise FileNotFoundError(f"frames of {len(absent)} run(s) are not in the store {store.root} (e.g. {absent[0]})")
    return draw_sample_strip(rows, store.read_frames, options.times,
                             f"{title}: prompt {first['prompt']}, seed {first['seed']}, {length} videos")


def all_grids(grids_dir: str | Path = "grids") -> list[Path]:
    """Every grid file (*.yaml) in `grids_dir`, sorted.

    Raises:
        FileNotFoundError: the folder is missing or holds no grid file.
    """
    folder = Path(grids_dir)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no grid files (*.yaml) in {str(folder)!r}")
    return files
