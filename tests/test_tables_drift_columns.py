"""Tables: the grid chooses its drift aggregators (start–end Δ, VDE) and shows set-level metrics
beside a real-vs-real floor row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.executors import make_executor, run_grid
from bench.grid import GridError, load_and_resolve
from bench.tables import FLOOR_ROW, collect_results, render, summarise, write_tables
from metrics.reference_distance import ReferenceDistance
from metrics.registry import register_set

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


@register_set
class MeanColourDistance(ReferenceDistance):
    """Test set metric: Fréchet distance of per-frame mean colours (3 numbers)."""

    name = "test_mean_colour_distance"
    backend = "fake"

    def range_features(self, frames, ranges):
        means = frames.reshape(len(frames), -1, 3).mean(axis=1) / 255.0
        return [means[first:end] for first, end in ranges]


def _grid(tmp_path, metrics):
    document = {
        "name": "drift-columns", "plugins": [PLUGIN], "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0, "size": 64}},
                 {"generator": "fake_video", "params": {"drift": 9.0, "size": 64}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 3},
        "seeds": [0],
        "lengths": {"long": 6},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake", **metrics},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_and_resolve(path)


def _changed(grid, **changes):
    """The grid with top-level keys of its file replaced."""
    document = {**yaml.safe_load(Path(grid.spec.source).read_text()), **changes}
    Path(grid.spec.source).write_text(yaml.safe_dump(document))
    return load_and_resolve(grid.spec.source)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("drift_columns")
    grid = _grid(tmp_path, {"aggregators": ["start_end", "vde_linear", "vde_log"], "vde_chunks": 4,
                            "set_level": ["test_mean_colour_distance"], "set_windows": 3})
    run_grid(grid, executor=make_executor("local"), progress=False)
    return grid, tmp_path


def test_the_grid_chooses_which_drift_aggregators_the_table_shows(finished):
    grid, _ = finished
    summary = summarise(collect_results(grid), grid)
    columns = list(dict.fromkeys(summary["column"]))
    for label in ("Δ Brightness ↓", "VDE Brightness ↓", "VDE-log Brightness ↓"):
        assert label in columns
    # More brightness drift per section -> larger VDE; VDE is a relative change, shown in percent.
    vde = summary[summary["column"] == "VDE Brightness ↓"].set_index("row")["mean"]
    assert vde["fake(drift=9.0)"] > vde["fake(drift=1.0)"] > 0


def test_a_grid_without_aggregators_keeps_the_start_end_column_only(tmp_path):
    grid = _grid(tmp_path, {})
    assert grid.spec.metrics.aggregators == ("start_end",)


def test_unknown_aggregator_and_unknown_set_level_metric_are_refused_naming_the_key(tmp_path):
    with pytest.raises(GridError, match=r"metrics.aggregators\[0\].*vde_cubic"):
        _grid(tmp_path, {"aggregators": ["vde_cubic"]})
    with pytest.raises(GridError, match=r"metrics.set_level\[0\].*no_such_distance"):
        _grid(tmp_path, {"set_level": ["no_such_distance"]})


def test_set_level_columns_are_one_value_per_row_with_a_floor_row(finished):
    grid, tmp_path = finished
    written = write_tables(grid, out_root=tmp_path / "results")
    summary = written["summary"]
    set_rows = summary[summary["kind"] == "set"]
    assert set(set_rows["column"]) == {"Test mean colour distance end (set) ↓", "Δ Test mean colour distance (set) ↓"}
    assert set(set_rows["row"]) == {*grid.row_names, FLOOR_ROW}
    assert set_rows["ci_low"].isna().all()  # one number per set: no interval
    end = set_rows[set_rows["column"].str.contains("end")].set_index("row")["mean"]
    # The fake videos brighten away from the real clips; the more drift, the farther; both above the floor.
    assert end["fake(drift=9.0)"] > end["fake(drift=1.0)"] > end[FLOOR_ROW]
    assert not summary.loc[summary["row"] == FLOOR_ROW, "best"].any()
    curves = pd.read_parquet(written["paths"]["set_level"])
    assert set(curves["kind"]) == {"window", "start", "end", "contrast"}
    assert sorted(curves.loc[curves["kind"] == "window", "index"].unique()) == [0, 1, 2]
    assert (curves["videos"] == 3).all()
    assert "(set): set-level" in render(summary, "md")
    # Per-video features are cached by content in the store: a second table reads them back.
    cached = list((tmp_path / "runs" / ".set_level_cache" / "set_features").glob("*.npz"))
    assert len(cached) == 3 * 2 + 3 * 2  # 3 videos per row x 2 rows, plus the reference and floor sets
    assert collect_results(grid).set_level.equals(pd.read_parquet(written["paths"]["set_level"]))


def test_set_level_metrics_need_lab_prompts_and_say_so(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle\na blue square\n")
    grid = _changed(_grid(tmp_path, {"set_level": ["test_mean_colour_distance"], "set_windows": 2}),
                    prompts={"source": "file", "path": str(prompts)})
    run_grid(grid, executor=make_executor("local"), progress=False)
    set_level = collect_results(grid).set_level
    assert (set_level["kind"] == "error").all() and set_level["value"].isna().all()
    assert set_level["error"].str.contains("lab prompts only").all()
    results = collect_results(grid)
    assert np.isnan(summarise(results, grid).query("kind == 'set'")["mean"]).all()
    note = results.missing["test_mean_colour_distance (set)"]
    assert "lab prompts only" in note["reason"]  # the table says why the set-level cells are empty
    assert "lab prompts only" in render(summarise(results, grid), "md", missing=results.missing)


def test_a_neutral_metric_is_shown_unranked_and_only_its_drift_is_ranked(tmp_path):
    from bench.demo import row_quality

    grid = _grid(tmp_path, {"names": ["brightness", "level"], "drift": ["level"]})
    run_grid(grid, executor=make_executor("local"), progress=False)
    results = collect_results(grid)
    summary = summarise(results, grid)
    level = summary[summary["column"] == "Level"]
    assert len(level) == 2 and not level["best"].any() and (level["direction"] == "neutral").all()
    assert summary.loc[summary["column"] == "Δ Level ↓", "best"].sum() == 1
    # Simulated judges' row quality ignores the neutral score: with brightness alone the brighter
    # (more drifting) row is better, the level drift says the opposite; the neutral score adds nothing.
    quality = row_quality(results, grid)
    assert quality["fake(drift=9.0)"] == pytest.approx(0.0, abs=1e-9)  # +1 (brightness) and -1 (Δ level) cancel


def test_set_level_metrics_never_measure_the_lossy_mp4_of_a_run_without_exact_frames(tmp_path):
    grid = _changed(_grid(tmp_path, {"set_level": ["test_mean_colour_distance"], "set_windows": 2}), keep_frames=False)
    run_grid(grid, executor=make_executor("local"), progress=False)
    set_level = collect_results(grid).set_level
    assert (set_level["kind"] == "error").all() and set_level["value"].isna().all()
    assert set_level["error"].str.contains("kept no exact frames").all()
