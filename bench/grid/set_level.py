"""Set-level metrics of a grid: each row's videos, as one set, against real video from the same start frames.

For every length and row, the generated set is the row's finished videos; the reference set
holds one real continuation per video, from the same start frame and prompt and of the same
length, rendered by the lab world (`bench.world.continuations`); the floor set holds another,
disjoint real continuation per video. A real-clip row therefore reads at the floor, and a
generator that leaves real video reads above it, more so as the horizon grows.

Real continuations exist for lab prompts only; a grid with a prompt file gets an error row
saying so (as a metric with missing weights does), never a made-up value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.grid.errors import GridError
from bench.grid.prompts import PromptItem
from bench.grid.providers import backend_preference
from bench.grid.spec import GridSpec, MetricsSpec
from bench.run_store import DONE, RunStore

SET_LEVEL_COLUMNS = ["length"]  # added in front of metrics.set_metric.SET_RESULT_COLUMNS


def check_set_level(spec: MetricsSpec, source: str | None = None) -> None:
    """GridError naming `metrics.set_level[i]` for a set-level metric without a backend in `metrics.backend`."""
    from metrics.registry import get_set_metric_class

    for i, name in enumerate(spec.set_level):
        try:
            get_set_metric_class(name, backend_preference(spec.backend))
        except ValueError as error:
            raise GridError(f"metrics.set_level[{i}]", str(error), source) from None


def real_continuation(prompt: PromptItem, num_frames: int, draw: int, fps: float) -> np.ndarray:
    """Real clip `draw` from the prompt's start frame (lab prompts only; ValueError otherwise)."""
    from bench.world import test_split
    from bench.world.continuations import alternative_continuation

    origin = prompt.origin
    if origin.get("source") != "lab":
        raise ValueError(f"prompt {prompt.id}: set-level reference metrics need real continuations, which the lab "
                         "world renders for lab prompts only (prompts.source: lab)")
    item = test_split(origin["split"])[origin["index"]]
    return alternative_continuation(item.attributes, item.seed, draw, num_frames, fps)


def set_level_results(spec: GridSpec, runs: Sequence[Any], row_names: Sequence[str], store: RunStore,
                      cache: str | None = None, on_set: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Measure `metrics.set_level` for every (length, row) with finished runs.

    Args:
        spec: the grid.
        runs: the resolved grid's runs (`bench.grid.resolve.RunConfig`: row_name, length, seed, prompt, key).
        row_names: table rows in order.
        store: where the runs' frames are.
        cache: folder for per-video features cached by content (None: none).
        on_set: called with "length/row" after each set (progress).

    Returns:
        `metrics.set_metric.SET_RESULT_COLUMNS` rows with a `length` column in front; a set that
        cannot be measured (missing weights, no real continuations) gets one error row.
    """
    from metrics.registry import get_set_metric_class
    from metrics.set_metric import SET_RESULT_COLUMNS, set_error_rows

    grid_spec, spec = spec, spec.metrics
    if not spec.set_level:
        return pd.DataFrame(columns=SET_LEVEL_COLUMNS + SET_RESULT_COLUMNS)
    metrics = [get_set_metric_class(name, backend_preference(spec.backend))(cache=cache) for name in spec.set_level]
    seeds = {seed: i for i, seed in enumerate(grid_spec.seeds)}
    real: dict[tuple[str, int, int], np.ndarray] = {}
    tables = []
    for length in grid_spec.lengths:
        for row in row_names:
            done = [r for r in runs if r.row_name == row and r.length.name == length.name
                    and store.status(r.key).state == DONE]
            if not done:
                continue
            generated, reference, floor = [], [], []
            error = ""
            for run in done:
                try:  # measured on the exact frames, never on the lossy video.mp4
                    frames = store.read_exact_frames(run.key)
                except FileNotFoundError:
                    error = f"run {run.key} kept no exact frames (keep_frames: false); rerun it with keep_frames: true"
                    break
                fps = float(store.status(run.key).info.get("fps", 16))
                generated.append(frames)
                try:
                    # Seed s of a prompt uses real draws 2s (reference) and 2s + 1 (floor): all disjoint.
                    for draw, target in ((2 * seeds[run.seed], reference), (2 * seeds[run.seed] + 1, floor)):
                        key = (run.prompt.id, len(frames), draw)
                        if key not in real:
                            real[key] = real_continuation(run.prompt, len(frames), draw, fps)
                        target.append(real[key])
                except ValueError as problem:
                    error = str(problem)
                    break
            for metric in metrics:
                ok, reason = metric.available()
                if error or not ok:
                    table = set_error_rows(row, metric, error or reason)
                else:
                    try:
                        table = metric.measure_sets(row, generated, reference, floor, spec.set_windows)
                    except (ValueError, FileNotFoundError) as problem:
                        table = set_error_rows(row, metric, str(problem))
                tables.append(table.assign(length=length.name)[SET_LEVEL_COLUMNS + SET_RESULT_COLUMNS])
            if on_set is not None:
                on_set(f"{length.name}/{row}")
    if not tables:
        return pd.DataFrame(columns=SET_LEVEL_COLUMNS + SET_RESULT_COLUMNS)
    return pd.concat(tables, ignore_index=True)
