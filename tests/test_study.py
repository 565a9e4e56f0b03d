"""`fpbench study` (bench/study.py) and the paired comparisons of the paper's questions
(bench/analysis/study_comparisons.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import bench.cli
from bench.analysis.study_comparisons import INVERTED, QUESTIONS, VANILLA, VANILLA_D, compare_questions
from bench.study import STUDY_GRIDS, run_study

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


def fake_grid(tmp_path: Path, name: str, drifts: list[float]) -> Path:
    document = {
        "name": name, "plugins": [PLUGIN], "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": drift}} for drift in drifts],
        "prompts": {"source": "lab", "split": "i2v", "count": 2}, "seeds": [0], "lengths": {"long": 4},
        "metrics": {"names": ["flicker"], "backend": "fake", "provider": "fake", "drift": []},
        "rating": {"enabled": True, "judges": "simulated", "per_row": 20, "seed": 1},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def scores_of(rows: dict[str, np.ndarray], metric: str = "clarity") -> pd.DataFrame:
    records = []
    for row, values in rows.items():
        for index, value in enumerate(values):
            records.append({"row": row, "prompt": f"i2v-{index // 2:03d}", "seed": index % 2, "length": "long",
                            "metric": metric, "score": float(value), "drift": float(value) / 10})
    return pd.DataFrame(records)


def test_study_grids_are_the_two_paper_tables():
    assert STUDY_GRIDS == ("grids/paper-table1.yaml", "grids/paper-table2.yaml")


def test_a_consistent_paired_shift_is_found_with_its_sign_and_an_interval_around_it():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, 40)
    noise = rng.normal(0, 0.01, 40)
    scores = scores_of({INVERTED: base, VANILLA: base + 0.05 + noise, VANILLA_D: base + noise})
    table = compare_questions(scores, {"clarity": "higher"})
    order = table[(table["question"] == "sampling order") & (table["value"] == "score")]
    (vanilla,) = order[order["row"] == VANILLA].itertuples()
    assert vanilla.n == 40 and vanilla.scale == 100.0
    assert vanilla.ci_low < 5.0 < vanilla.ci_high and vanilla.mean_difference == pytest.approx(5.0, abs=0.5)
    assert vanilla.better and vanilla.significant
    # +D against vanilla: 5 points worse, drift (lower is better) lower -> better on drift
    discrete = table[(table["question"] == "discrete history (+D)") & (table["row"] == VANILLA_D)]
    score = discrete[discrete["value"] == "score"].iloc[0]
    drift = discrete[discrete["value"] == "drift"].iloc[0]
    assert score["mean_difference"] < 0 and not score["better"] and score["significant"]
    assert drift["mean_difference"] < 0 and drift["better"]
    # Holm never lowers a p-value
    assert (table["p_holm"] >= table["p_sign_flip"] - 1e-12).all()


def test_no_difference_is_not_significant_and_questions_without_their_rows_are_left_out():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.7, 40)
    scores = scores_of({INVERTED: base, VANILLA: base + rng.normal(0, 0.02, 40)})
    table = compare_questions(scores, {"clarity": "higher"})
    assert set(table["question"]) == {"sampling order"}
    assert set(table["row"]) == {VANILLA}  # the anti-drifting row is not in the scores
    assert not table["significant"].any()
    assert {question.name for question in QUESTIONS} >= {"tail mode", "noisy history: σ_train / σ_test"}


def test_study_validates_every_grid_before_any_work(tmp_path):
    good = fake_grid(tmp_path, "table-a", [1.0, 6.0])
    bad = fake_grid(tmp_path, "table-b", [1.0])
    document = yaml.safe_load(bad.read_text())
    document["rows"].append({"generator": "no_such_generator"})
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError, match="no_such_generator"):
        run_study([good, bad], results_root=tmp_path / "results", progress=False)
    assert not (tmp_path / "runs").exists()  # nothing of the first grid ran


def test_study_writes_each_table_its_comparisons_and_a_record_and_resumes(tmp_path):
    grids = [fake_grid(tmp_path, "table-a", [1.0, 6.0]), fake_grid(tmp_path, "table-b", [1.0, 12.0])]
    result = run_study(grids, results_root=tmp_path / "results", progress=False)
    for name in ("table-a", "table-b"):
        folder = tmp_path / "results" / name
        assert (folder / "table.md").is_file() and (folder / "ratings" / "ratings.parquet").is_file()
        assert (folder / "comparisons.md").read_text().startswith(f"# {name}: paired comparisons")
        code = json.loads((folder / "provenance.json").read_text())
        assert code["runs"] == 4 and sum(code["revisions"].values()) == 4 and "torch" in code["packages"]
    record = json.loads((tmp_path / "results" / "study.json").read_text())
    assert record["command"] == "fpbench study" and set(record["grids"]) == {"table-a", "table-b"}
    assert record["grids"]["table-a"]["runs"] == 4 and record["grids"]["table-b"]["failed"] == 0
    assert "revision" in record["git"] and record["seconds"] >= 0
    # the rows both grids share (drift 1.0) were generated once
    assert [table.summary.counts for table in result.tables] == [{"generated": 4, "already done": 0},
                                                                 {"generated": 2, "already done": 2}]
    again = run_study(grids, results_root=tmp_path / "results", progress=False)
    assert [table.summary.counts for table in again.tables] == [{"already done": 4}, {"already done": 4}]


def test_study_cli_refuses_zero_jobs_without_a_traceback(capsys):
    assert bench.cli.main(["study", "--jobs", "0"]) == 2
    assert "--jobs must be >= 1, got 0" in capsys.readouterr().err


def test_comparisons_figure_draws_one_line_per_pair_and_marks_significance(tmp_path):
    from bench.figures.comparisons import comparisons_figure, draw_comparisons

    rng = np.random.default_rng(2)
    base = rng.uniform(0.3, 0.7, 40)
    scores = scores_of({INVERTED: base, VANILLA: base + 0.05 + rng.normal(0, 0.01, 40),
                        VANILLA_D: base + rng.normal(0, 0.02, 40)})
    table = compare_questions(scores, {"clarity": "higher"})
    figure = draw_comparisons(table, "t")
    score_axis = figure.axes[0]
    assert len(score_axis.get_yticklabels()) == len(table.drop_duplicates(["question", "row", "against"]))
    markers = [line for line in score_axis.lines if line.get_marker() == "o"]
    filled = [line.get_markerfacecolor() != "white" for line in markers]
    assert filled == table[table["value"] == "score"]["significant"].tolist()
    written = comparisons_figure(table, tmp_path / "figures" / "comparisons", "t")
    assert [path.suffix for path in written] == [".png", ".pdf"] and all(path.stat().st_size > 1000 for path in written)
    assert comparisons_figure(table.iloc[0:0], tmp_path / "empty") == []
