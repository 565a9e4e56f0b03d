"""Paper-style tables: mean ± CI over videos, percent, direction-aware bold, formats, ratings."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from bench.executors import make_executor, run_grid
from bench.grid import load_and_resolve
from bench.run_store import RunStore
from bench.tables import collect_results, mean_ci, percent_scale, render, summarise, wide_table, write_tables

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


@pytest.fixture(scope="module")
def finished_grid(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tables")
    document = {
        "name": "table-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0}},
                 {"generator": "fake_video", "params": {"drift": 9.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 3},
        "seeds": [0, 1],
        "lengths": {"long": 4},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake"},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    run_grid(grid, executor=make_executor("local"), progress=False)
    return grid, tmp_path


def test_mean_ci_is_the_student_t_interval():
    samples = np.array([1.0, 2.0, 4.0, 7.0])
    mean, low, high = mean_ci(samples)
    expected = stats.t.interval(0.95, 3, loc=samples.mean(), scale=stats.sem(samples))
    assert mean == pytest.approx(3.5)
    assert (low, high) == pytest.approx(expected)
    single = mean_ci(np.array([5.0]))
    assert single[0] == 5.0 and np.isnan(single[1]) and np.isnan(single[2])


def test_percent_only_for_fraction_metrics():
    assert percent_scale(pd.Series([0.2, 0.9])) == 100.0
    assert percent_scale(pd.Series([-0.3, 0.8])) == 100.0  # cosine similarities
    assert percent_scale(pd.Series([3.5, 12.0])) == 1.0


def test_summary_has_one_row_per_variant_and_column_with_percent_means_over_videos(finished_grid):
    grid, _ = finished_grid
    results = collect_results(grid)
    summary = summarise(results, grid)
    assert list(dict.fromkeys(summary["row"])) == grid.row_names
    assert list(dict.fromkeys(summary["column"])) == ["Brightness ↑", "Flicker ↓", "Δ Brightness ↓", "Δ Flicker ↓"]
    assert (summary["n"] == 6).all()
    for row in grid.row_names:
        scores = results.scores[(results.scores["row"] == row) & (results.scores["metric"] == "brightness")]
        cell = summary[(summary["row"] == row) & (summary["column"] == "Brightness ↑")].iloc[0]
        assert cell["mean"] == pytest.approx(scores["score"].mean() * 100)
        low, high = mean_ci(scores["score"].to_numpy() * 100)[1:]
        assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((low, high))


def test_best_is_max_for_higher_and_min_for_lower_is_better(finished_grid):
    grid, _ = finished_grid
    summary = summarise(collect_results(grid), grid)
    best = summary[summary["best"]].set_index("column")["row"].to_dict()
    # More drift per section: brighter on average, and a larger start–end brightness contrast.
    assert best["Brightness ↑"] == "fake(drift=9.0)"
    assert best["Δ Brightness ↓"] == "fake(drift=1.0)"
    assert best["Flicker ↓"] == "fake(drift=1.0)"
    table = wide_table(summary, "long", "md")
    assert table.loc["fake(drift=9.0)", "Brightness ↑"].startswith("**")
    assert not table.loc["fake(drift=1.0)", "Brightness ↑"].startswith("**")
    assert " ± " in table.loc["fake(drift=1.0)", "Brightness ↑"]


def test_formats_md_latex_and_csv_that_pandas_reads(finished_grid):
    grid, _ = finished_grid
    summary = summarise(collect_results(grid), grid)
    markdown = render(summary, "md", grid.name)
    assert "| `fake(drift=1.0)` |" in markdown and "**" in markdown
    latex = render(summary, "latex", grid.name)
    assert r"\textbf{" in latex and r"$\pm$" in latex and r"$\Delta$" in latex
    assert "±" not in latex and "↑" not in latex
    parsed = pd.read_csv(io.StringIO(render(summary, "csv")))
    pd.testing.assert_series_equal(parsed["mean"], summary["mean"], check_names=False)
    with pytest.raises(ValueError, match="'html'"):
        render(summary, "html")


def test_ratings_add_elo_and_rank_columns_labelled_simulated(finished_grid):
    grid, _ = finished_grid
    board = pd.DataFrame({"model": grid.row_names, "elo": [1040.0, 960.0], "rank": [1, 2], "simulated": True})
    summary = summarise(collect_results(grid), grid, board)
    columns = list(dict.fromkeys(summary["column"]))
    assert columns[-2:] == ["ELO-K32 (simulated) ↑", "Rank (simulated) ↓"]
    best = summary[summary["best"]].set_index("column")["row"].to_dict()
    assert best["ELO-K32 (simulated) ↑"] == best["Rank (simulated) ↓"] == "fake(drift=1.0)"
    assert "SIMULATED" in render(summary, "md", grid.name)


def test_write_tables_saves_every_format(finished_grid):
    grid, tmp_path = finished_grid
    out = write_tables(grid, RunStore(grid.spec.store), out_root=tmp_path / "results")
    folder = tmp_path / "results" / "table-test"
    for name in ("table.md", "table.tex", "table.csv", "summary.parquet", "scores.parquet", "values.parquet"):
        assert (folder / name).is_file(), name
    assert len(pd.read_parquet(folder / "scores.parquet")) == 12 * 2
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "summary.parquet"), out["summary"])
    stored = pd.read_parquet(folder / "values.parquet")
    assert stored["value"].dtype == "float32"  # half the bytes of the largest file of a results folder
    import pyarrow.parquet as pq

    column = pq.ParquetFile(folder / "values.parquet").metadata.row_group(0).column(
        list(stored.columns).index("value"))
    assert column.compression == "ZSTD" and "BYTE_STREAM_SPLIT" in column.encodings
    assert np.allclose(stored["value"], out["results"].values["value"], rtol=1e-6, equal_nan=True)


def test_no_cell_is_bold_when_every_row_is_equal(finished_grid):
    grid, _ = finished_grid
    board = pd.DataFrame({"model": grid.row_names, "elo": [1000.0, 1000.0], "rank": [1, 1], "simulated": False})
    summary = summarise(collect_results(grid), grid, board)
    assert not summary.loc[summary["kind"] == "rating", "best"].any()
    assert summary.loc[summary["kind"] != "rating", "best"].any()


def test_unfinished_runs_are_left_out_and_counted(finished_grid, tmp_path):
    grid, _ = finished_grid
    partial = load_and_resolve(Path(grid.spec.source), ["prompts.count=4"])
    results = collect_results(partial)
    assert (results.runs["state"] == "pending").sum() == 4
    summary = summarise(results, partial)
    assert (summary["n"] == 6).all()


def test_cost_columns_are_the_mean_compute_record_of_each_rows_runs(finished_grid):
    grid, _ = finished_grid
    store = RunStore(grid.spec.store)
    results = collect_results(grid, store)
    assert len(results.costs) == len(results.runs[results.runs["state"] == "done"])
    summary = summarise(results, grid, cost=True)
    for row in grid.row_names:
        records = [store.status(run.key).info["compute"] for run in grid.runs if run.row_name == row]
        generate = np.mean([r["seconds"]["generate"] for r in records])
        cell = summary[(summary["row"] == row) & (summary["metric"] == "generate_seconds")]
        assert cell["mean"].item() == pytest.approx(generate)
        assert cell["n"].item() == len(records) and cell["kind"].item() == "cost"
    assert "Generate s ↓" in wide_table(summary, grid.spec.lengths[0].name).columns
    assert "cost columns" in render(summary)
    assert not (summarise(results, grid)["kind"] == "cost").any()  # only when asked
