"""bench.analysis: the package functions behind the notebooks and the drift figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.analysis import (
    ResultsNotFoundError,
    bootstrap_mean_ci,
    compare_rows,
    holm,
    load_results,
    metric_correlations,
    position_bias,
    row_window_curves,
    sign_flip_pvalue,
    slice_table,
    start_end_table,
)
from bench.tables import mean_ci
from metrics.drift import start_end_contrast, window_curves


def make_scores(effect: float, n_prompts: int = 8, seed: int = 0) -> pd.DataFrame:
    """Two rows on the same items; row B = row A + effect + small noise."""
    rng = np.random.default_rng(seed)
    records = []
    for p in range(n_prompts):
        for s in (0, 1):
            base = rng.normal(0.5, 0.1)
            for row, shift in (("A", 0.0), ("B", effect + rng.normal(0, 0.01))):
                records.append({"row": row, "prompt": f"p{p}", "seed": s, "length": "long", "key": f"{row}{p}{s}",
                                "metric": "clarity", "score": base + shift, "drift": abs(shift)})
    return pd.DataFrame(records)


def make_values() -> pd.DataFrame:
    """Per-frame values of 3 videos per row: row "flat" constant, row "ramp" rising linearly."""
    records = []
    for row, slope in (("flat", 0.0), ("ramp", 0.02)):
        for v in range(3):
            for i in range(20):
                records.append({"video": f"{row}-{v}", "metric": "clarity", "backend": "lab", "version": "1",
                                "kind": "frame", "index": i, "value": 0.5 + 0.01 * v + slope * i, "error": "",
                                "row": row, "prompt": f"p{v}", "seed": 0, "length": "long"})
            records.append({"video": f"{row}-{v}", "metric": "clarity", "backend": "lab", "version": "1",
                            "kind": "video", "index": -1, "value": 0.6, "error": "", "row": row,
                            "prompt": f"p{v}", "seed": 0, "length": "long"})
    return pd.DataFrame(records)


def test_sign_flip_is_exact_for_small_samples():
    assert sign_flip_pvalue(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == pytest.approx(2 / 32)
    assert sign_flip_pvalue(np.zeros(6)) == 1.0
    assert math.isnan(sign_flip_pvalue(np.array([])))
    large = sign_flip_pvalue(np.full(30, 0.1), rounds=2000, seed=1)
    assert large == pytest.approx(1 / 2001)


def test_holm_adjusts_in_order_and_keeps_nan():
    adjusted = holm(np.array([0.01, 0.04, np.nan, 0.03]))
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[3] == pytest.approx(0.06)
    assert adjusted[1] == pytest.approx(0.06)  # monotone: never below a smaller p's adjustment
    assert math.isnan(adjusted[2])


def test_bootstrap_interval_covers_the_mean_and_is_nan_for_one_sample():
    low, high = bootstrap_mean_ci(np.arange(20.0), rounds=1000, seed=0)
    assert low < 9.5 < high
    assert all(math.isnan(v) for v in bootstrap_mean_ci(np.array([1.0])))


def test_compare_rows_finds_a_real_difference_and_not_a_null_one():
    shifted = compare_rows(make_scores(0.05), "clarity", baseline="A").iloc[0]
    assert shifted["row"] == "B" and shifted["n"] == 16
    assert shifted["mean_difference"] == pytest.approx(0.05, abs=0.01)
    assert shifted["ci_low"] > 0 and shifted["p_sign_flip"] < 0.01 and shifted["p_holm"] < 0.01
    same = compare_rows(make_scores(0.0), "clarity", baseline="A").iloc[0]
    assert same["ci_low"] < 0 < same["ci_high"] and same["p_sign_flip"] > 0.05
    paired = make_scores(0.05)
    expected = stats.ttest_rel(paired[paired["row"] == "B"]["score"].to_numpy(),
                               paired[paired["row"] == "A"]["score"].to_numpy()).pvalue
    assert shifted["p_ttest"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="'C'"):
        compare_rows(make_scores(0.0), "clarity", baseline="C")


def test_slice_table_means_per_prompt_in_percent():
    scores = make_scores(0.05)
    table = slice_table(scores, "clarity", "prompt")
    assert list(table.index) == ["A", "B"] and list(table.columns) == [f"p{i}" for i in range(8)]
    expected = scores[(scores["row"] == "A") & (scores["prompt"] == "p3")]["score"].mean() * 100
    assert table.loc["A", "p3"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="'colour'"):
        slice_table(scores, "clarity", "colour")


def test_row_window_curves_average_the_per_video_windows_with_t_bands():
    values = make_values()
    curves = row_window_curves(values, windows=4)
    per_video = window_curves(values[values["kind"] == "frame"], 4)
    ramp = curves[(curves["row"] == "ramp") & (curves["window"] == 3)].iloc[0]
    samples = per_video[per_video["video"].str.startswith("ramp") & (per_video["window"] == 3)]["value"]
    mean, low, high = mean_ci(samples.to_numpy())
    assert (ramp["mean"], ramp["ci_low"], ramp["ci_high"], ramp["n"]) == pytest.approx((mean, low, high, 3))
    flat = curves[curves["row"] == "flat"].sort_values("window")["mean"].to_numpy()
    rising = curves[curves["row"] == "ramp"].sort_values("window")["mean"].to_numpy()
    assert np.allclose(flat, flat[0]) and np.all(np.diff(rising) > 0)


def test_start_end_table_is_the_mean_of_per_video_contrasts():
    values = make_values()
    table = start_end_table(values).set_index("row")
    contrast = start_end_contrast(values[values["kind"] == "frame"])
    expected = contrast[contrast["video"].str.startswith("ramp")]["delta"].mean()
    assert table.loc["ramp", "delta"] == pytest.approx(expected)
    assert table.loc["flat", "delta"] == pytest.approx(0.0, abs=1e-12)


def test_metric_correlations_rank_metrics_across_videos():
    scores = make_scores(0.05)
    other = scores.assign(metric="motion", score=-scores["score"])
    matrix = metric_correlations(pd.concat([scores, other]))
    assert matrix.loc["clarity", "motion"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="'cosine'"):
        metric_correlations(scores, method="cosine")


def test_position_bias_counts_left_wins_with_a_binomial_test():
    battles = pd.DataFrame({"model_a": ["x"] * 20, "model_b": ["y"] * 20, "winner": ["model_a"] * 15 + ["model_b"] * 5,
                            "a_on_left": [True] * 20})
    bias = position_bias(battles)
    assert bias["left_wins"] == 15 and bias["left_win_rate"] == pytest.approx(0.75)
    assert bias["binomial_p"] == pytest.approx(stats.binomtest(15, 20, 0.5).pvalue)
    unknown = position_bias(battles.assign(a_on_left=None))
    assert unknown["decisive_with_side"] == 0 and math.isnan(unknown["binomial_p"])


def test_load_results_names_the_missing_files_and_the_command(tmp_path):
    with pytest.raises(ResultsNotFoundError, match="summary.parquet.*fpbench table"):
        load_results(tmp_path / "nothing")
