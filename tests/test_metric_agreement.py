"""Agreement of metrics with A/B votes: share of decisive votes the metric calls right, Kendall's τ
with the Bradley–Terry order, video-level when votes name their videos, SIMULATED labelling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.analysis.metric_agreement import agreement_markdown, metric_agreement

ROWS = ["a", "b", "c"]


def _scores(good: dict, drift: dict, prompts=("p0", "p1")) -> pd.DataFrame:
    records = []
    for row in ROWS:
        for prompt in prompts:
            records.append({"row": row, "prompt": prompt, "seed": 0, "length": "long", "key": f"{row}{prompt}",
                            "metric": "good", "score": good[row], "drift": drift[row]})
            records.append({"row": row, "prompt": prompt, "seed": 0, "length": "long", "key": f"{row}{prompt}",
                            "metric": "reversed", "score": -good[row], "drift": -drift[row]})
    return pd.DataFrame(records)


def _battles(simulated=False) -> pd.DataFrame:
    # a always beats b and c, b always beats c; plus ties that must not count.
    pairs = [("a", "b", "model_a"), ("b", "a", "model_b"), ("b", "c", "model_a"), ("a", "c", "model_a"),
             ("c", "a", "model_b"), ("a", "b", "tie")] * 5
    return pd.DataFrame({"model_a": [p[0] for p in pairs], "model_b": [p[1] for p in pairs],
                         "winner": [p[2] for p in pairs], "judge": "j", "simulated": simulated})


def test_a_metric_that_orders_rows_as_the_votes_agrees_fully_and_its_reverse_not_at_all():
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.01, "b": 0.05, "c": 0.2})
    report = metric_agreement(_battles(), scores, {"good": "higher", "reversed": "higher"}, bootstrap=200)
    table = report.table.set_index(["metric", "value"])
    assert report.decisive_votes == 25  # the 5 ties are not decisive
    assert table.loc[("good", "score"), "share"] == 1.0 and table.loc[("good", "score"), "kendall_tau"] == 1.0
    assert table.loc[("reversed", "score"), "share"] == 0.0 and table.loc[("reversed", "score"), "kendall_tau"] == -1.0
    # Drift: lower is better, so the good metric's drift (lowest for the winner) agrees fully.
    assert table.loc[("good", "drift"), "share"] == 1.0 and table.loc[("reversed", "drift"), "share"] == 0.0
    assert (table["level"] == "row").all()


def test_lower_is_better_metrics_prefer_the_lower_score():
    scores = _scores({"a": 0.1, "b": 0.5, "c": 0.9}, {"a": 0.01, "b": 0.05, "c": 0.2})
    report = metric_agreement(_battles(), scores, {"good": "lower", "reversed": "lower"}, bootstrap=0)
    assert report.table.set_index(["metric", "value"]).loc[("good", "score"), "share"] == 1.0


def test_votes_that_name_their_videos_are_judged_on_those_videos():
    # Row means say a > b, but on prompt p1 (the only one voted) b's video is better.
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.0, "b": 0.0, "c": 0.0})
    scores.loc[(scores["row"] == "b") & (scores["prompt"] == "p1") & (scores["metric"] == "good"), "score"] = 0.95
    battles = pd.DataFrame({"model_a": ["a"] * 4, "model_b": ["b"] * 4, "winner": ["model_a"] * 4,
                            "prompt_id": ["p1"] * 4, "seed": [0] * 4})
    report = metric_agreement(battles, scores, {"good": "higher", "reversed": "higher"}, bootstrap=0)
    good = report.table.set_index(["metric", "value"]).loc[("good", "score")]
    assert good["level"] == "video" and good["share"] == 0.0
    # Equal drift values: a metric tie counts one half.
    assert report.table.set_index(["metric", "value"]).loc[("good", "drift"), "share"] == 0.5


def test_bootstrap_interval_brackets_the_share():
    rng = np.random.default_rng(0)
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.01, "b": 0.05, "c": 0.2})
    battles = _battles()
    flip = rng.random(len(battles)) < 0.3
    battles.loc[flip & (battles["winner"] == "model_a"), "winner"] = "model_b"
    row = metric_agreement(battles, scores, {"good": "higher", "reversed": "higher"}, bootstrap=500).table.iloc[0]
    assert row["ci_low"] < row["share"] < row["ci_high"]


def test_simulated_votes_are_labelled_and_the_by_construction_caveat_is_stated():
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.01, "b": 0.05, "c": 0.2})
    report = metric_agreement(_battles(simulated=True), scores, {"good": "higher", "reversed": "higher"}, bootstrap=0)
    text = agreement_markdown(report)
    assert report.simulated and "SIMULATED" in text and "by construction" in text
    assert "SIMULATED" not in agreement_markdown(metric_agreement(_battles(), scores, {"good": "higher"}, bootstrap=0))


def test_votes_for_rows_without_scores_are_refused_naming_them():
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.01, "b": 0.05, "c": 0.2})
    battles = pd.DataFrame({"model_a": ["a"], "model_b": ["zzz"], "winner": ["model_a"]})
    with pytest.raises(ValueError, match="zzz"):
        metric_agreement(battles, scores, {"good": "higher"})


def test_agreement_command_writes_table_json_and_figure(tmp_path, capsys):
    from bench.cli import main

    results = tmp_path / "results" / "grid"
    results.mkdir(parents=True)
    scores = _scores({"a": 0.9, "b": 0.5, "c": 0.1}, {"a": 0.01, "b": 0.05, "c": 0.2})
    scores.to_parquet(results / "scores.parquet")
    pd.DataFrame({"length": "long", "row": ROWS * 2, "column": ["Good ↑"] * 3 + ["Δ Good ↓"] * 3,
                  "metric": ["good"] * 6, "kind": ["global"] * 3 + ["drift"] * 3,
                  "direction": ["higher"] * 3 + ["lower"] * 3}).to_parquet(results / "summary.parquet")
    pd.DataFrame({"video": ["x"]}).to_parquet(results / "values.parquet")
    votes = tmp_path / "votes.parquet"
    _battles(simulated=True).to_parquet(votes)
    assert main(["agreement", str(votes), "--results", str(results), "--bootstrap", "50"]) == 0
    out = results / "agreement"
    assert "SIMULATED" in capsys.readouterr().out
    payload = json.loads((out / "agreement.json").read_text())
    assert payload["simulated"] and payload["agreement"][0]["metric"] == "good"
    assert (out / "agreement.png").is_file() and (out / "agreement.parquet").is_file()
    assert main(["agreement", str(tmp_path / "missing.csv"), "--results", str(results)]) == 2


def test_agreement_on_a_study_judges_the_videos_each_vote_showed(tmp_path, capsys):
    from bench.cli import main
    from bench.votes.demo_videos import make_demo_videos
    from bench.votes.simulate import simulate_study_votes
    from bench.votes.study import create_study_from_videos

    strengths = {"a": 1300.0, "b": 1000.0, "c": 700.0}
    records = make_demo_videos(tmp_path / "videos", list(strengths), prompts=2, frames=4)
    create_study_from_videos(records, "x", per_row=6, seed=1, directory=tmp_path / "study", gold_broken=1)
    simulate_study_votes(tmp_path / "study", strengths, annotators=3, seed=2, judge_noise=5.0)
    results = tmp_path / "results"
    results.mkdir()
    scores = pd.DataFrame([{"row": r.row, "prompt": r.prompt_id, "seed": r.seed, "length": "long", "key": r.video,
                            "metric": "good", "score": strengths[r.row] / 1000, "drift": 0.0} for r in records])
    scores.to_parquet(results / "scores.parquet")
    pd.DataFrame({"length": "long", "row": list(strengths), "column": "Good ↑", "metric": "good", "kind": "global",
                  "direction": "higher"}).to_parquet(results / "summary.parquet")
    pd.DataFrame({"video": ["x"]}).to_parquet(results / "values.parquet")
    assert main(["agreement", str(tmp_path / "study"), "--results", str(results), "--no-figure",
                 "--bootstrap", "100"]) == 0
    table = pd.read_parquet(results / "agreement" / "agreement.parquet").set_index(["metric", "value"])
    good = table.loc[("good", "score")]
    assert good["level"] == "video" and good["share"] > 0.9 and good["kendall_tau"] == 1.0
    assert table["simulated"].all() and "SIMULATED" in capsys.readouterr().out
