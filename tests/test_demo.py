"""The demo pipeline end to end on tiny fake generators, and the shipped grids."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import bench.cli
from bench.demo import draw_demo_figure, row_quality, run_demo
from bench.grid import MissingCheckpointError, load_and_resolve, load_grid, metric_provider
from bench.grid.framepack_rows import framepack_row_name, validate_framepack_row
from bench.tables import collect_results

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["grids/demo.yaml", "grids/paper-table1.yaml", "grids/paper-table2.yaml"]


def fake_demo_grid(tmp_path: Path) -> Path:
    document = {
        "name": "fake-demo",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0}},
                 {"generator": "fake_video", "params": {"drift": 4.0, "reverse": True}},
                 {"generator": "fake_video", "params": {"drift": 12.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2},
        "seeds": [0],
        "lengths": {"long": 5},
        # Flicker (lower is better) grows with the per-frame drift, so the judges' order is known.
        "metrics": {"names": ["flicker"], "backend": "fake", "provider": "fake", "drift": []},
        "rating": {"enabled": True, "judges": "simulated", "per_row": 60, "seed": 3},
    }
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_demo_runs_rates_with_simulated_judges_and_saves_table_and_figure(tmp_path):
    path = fake_demo_grid(tmp_path)
    result = run_demo(path, results_root=tmp_path / "results", progress=False)
    folder = tmp_path / "results" / "fake-demo"
    assert result.summary.counts == {"generated": 6, "already done": 0}
    assert result.figure == folder / "demo.png" and result.figure.stat().st_size > 10_000
    drawn = json.loads((folder / "figures" / "figures.json").read_text())["figures"]
    assert {"drift_long", "samples_long", "table_long", "ratings", "win_rate"} <= set(drawn)  # fake rows: no schedules
    markdown = (folder / "table.md").read_text()
    assert "ELO-K32 (simulated) ↑" in markdown and "SIMULATED judges" in markdown
    board = pd.read_parquet(folder / "ratings" / "ratings.parquet")
    assert board["simulated"].all() and set(board["model"]) == set(result.grid.row_names)
    battles = pd.read_parquet(folder / "ratings" / "battles.parquet")
    assert battles["simulated"].all() and len(battles) == 90
    # Judges follow the metrics: the least flickering row is the strongest.
    quality = row_quality(collect_results(result.grid), result.grid)
    assert max(quality, key=quality.get) == "fake(drift=1.0)"
    assert board.sort_values("elo").iloc[0]["model"] == "fake(drift=12.0)"  # far behind: last in ELO

    again = run_demo(path, results_root=tmp_path / "results", progress=False)
    assert again.summary.counts == {"already done": 6}
    pd.testing.assert_frame_equal(again.tables["summary"], result.tables["summary"])


def test_demo_figure_keeps_its_legend_below_the_curves_and_is_written_like_other_results(tmp_path):
    from bench.atomic_files import FILE_MODE
    from bench.run_store import RunStore

    path = fake_demo_grid(tmp_path)
    result = run_demo(path, ["metrics.drift=[flicker]"], results_root=tmp_path / "results", progress=False,
                      rating=False, paper_figures=False)
    assert result.figure.stat().st_mode & 0o777 == FILE_MODE
    figure = draw_demo_figure(result.grid, result.tables["results"], RunStore(tmp_path / "runs"))
    assert not [axis for axis in figure.axes if axis.get_legend() is not None]  # no legend on any panel
    (legend,) = figure.legends
    figure.canvas.draw()
    legend_top = legend.get_window_extent().transformed(figure.transFigure.inverted()).y1
    curves = [axis for axis in figure.axes if axis.lines]
    assert curves and legend_top <= min(axis.get_position().y0 for axis in curves) + 1e-6


def test_fpbench_demo_prints_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["run", "status", "table", "demo"])
    path = fake_demo_grid(tmp_path)
    code = bench.cli.main(["demo", "--grid", str(path), "--results", str(tmp_path / "results"), "--no-progress",
                           "--set", "prompts.count=1"])
    assert code == 0
    out = capsys.readouterr().out
    # drawn for a terminal, not raw markdown: no `**` or backticks, box lines instead of pipes
    assert "fake(drift=1.0)" in out and "SIMULATED" in out
    assert "**" not in out and "`" not in out and "| " not in out and "│" in out
    assert bench.cli.main(["status", str(path), "--set", "prompts.count=1"]) == 0
    status = capsys.readouterr().out
    assert "fake(drift=12.0)" in status and "all" in status
    assert bench.cli.main(["table", str(path), "--format", "csv", "--set", "prompts.count=1",
                           "--results", str(tmp_path / "results")]) == 0
    assert capsys.readouterr().out.startswith("length,row,column,metric")


@pytest.mark.parametrize("grid_file", SHIPPED)
def test_shipped_grids_are_valid_and_name_known_schedules_and_metrics(grid_file, monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = load_grid(grid_file)
    framepack_rows = [row for row in spec.rows if row.kind == "framepack"]
    for row in framepack_rows:
        validate_framepack_row(row)
    names = [framepack_row_name(row) for row in framepack_rows]
    assert "f1k1_x_g9_f1k1f2k2f16k4_td" in names and "td_f16k4f4k2f1k1_g9+D" in names
    metric_provider(spec.metrics.provider).check(spec.metrics.names, spec.metrics.backend)
    assert set(spec.metrics.drift) >= {"clarity", "motion", "semantic", "anatomy"}
    if grid_file.endswith("demo.yaml"):
        assert {"td_f16k4f4k2f1k1_g9", "td_f16k4f4k2f1k1_g9_x_f1k1"} <= set(names)
        assert spec.rating.enabled and spec.rating.judges == "simulated" and spec.prompts.split == "i2v"
    if grid_file.endswith("table2.yaml"):
        assert {row.kind for row in spec.rows} >= {"repeated_i2v", "anchor_frames", "causal_attention",
                                                   "noisy_history", "history_guidance"}
    try:
        grid = load_and_resolve(grid_file)
    except MissingCheckpointError as error:  # checkpoints not trained yet: the error says which and how
        assert "results/checkpoints/" in error.path
    else:
        assert len(grid.rows) == len(spec.rows)


def test_demo_reads_the_run_store_once(tmp_path, monkeypatch):
    """Tables, ratings and figures share one read of the finished runs (a paper table's read takes
    minutes): the demo neither re-collects for its tables nor refreshes them before the figures."""
    import bench.demo
    import bench.tables

    calls = []
    original = bench.tables.collect_results

    def counting(grid, store=None):
        calls.append(grid.name)
        return original(grid, store)

    monkeypatch.setattr(bench.tables, "collect_results", counting)
    monkeypatch.setattr(bench.demo, "collect_results", counting)
    path = fake_demo_grid(tmp_path)
    result = run_demo(path, results_root=tmp_path / "results", progress=False)
    assert calls == ["fake-demo"]
    drawn = json.loads((tmp_path / "results" / "fake-demo" / "figures" / "figures.json").read_text())
    assert "table refresh" not in drawn.get("notes", {})
    assert {"drift_long", "samples_long"} <= set(drawn["figures"])  # frames still read from the store
    assert result.tables["results"].scores["key"].nunique() == 6
