"""VDE (Video Drift Error, LV-Bench), the second drift aggregator over stored per-unit values."""

import numpy as np
import pandas as pd
import pytest

from metrics.drift import vde, vde_weights, video_drift_error


def test_vde_weights_sum_to_one_and_grow_with_the_chunk_index():
    for weighting in ("linear", "log"):
        weights = vde_weights(10, weighting)
        assert weights.sum() == pytest.approx(1.0)
        assert np.all(np.diff(weights) > 0)
    np.testing.assert_allclose(vde_weights(4, "linear"), np.array([1, 2, 3]) / 6)
    np.testing.assert_allclose(vde_weights(3, "log"), np.log([2, 3]) / np.log(6))


def test_vde_of_a_constant_curve_is_zero_and_a_uniform_offset_reads_its_relative_size():
    assert vde(np.full(40, 0.8)) == 0.0
    # First chunk at 1.0, every later chunk at 0.9: 10 % relative drift whatever the weights.
    values = np.r_[np.full(10, 1.0), np.full(90, 0.9)]
    assert vde(values, 10, "linear") == pytest.approx(0.1)
    assert vde(values, 10, "log") == pytest.approx(0.1)


def test_vde_weighs_late_drift_more_than_early_drift_with_linear_weights():
    early = np.r_[np.full(10, 1.0), np.full(10, 0.5), np.full(80, 1.0)]  # drops in chunk 2 only
    late = np.r_[np.full(90, 1.0), np.full(10, 0.5)]  # drops in chunk 10 only
    assert vde(late, 10, "linear") > vde(early, 10, "linear")
    assert vde(late, 10, "linear") == pytest.approx(0.5 * 9 / 45)
    # Log weights are flatter: the late drop weighs less than with linear weights.
    assert vde(late, 10, "log") < vde(late, 10, "linear")


def test_vde_is_nan_not_a_number_made_up_when_the_first_chunk_is_zero():
    assert np.isnan(vde(np.r_[np.zeros(10), np.ones(10)], 2))


def test_vde_rejects_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="weighting"):
        vde(np.ones(10), 5, "cubic")
    with pytest.raises(ValueError, match="at least 2 units"):
        vde(np.ones(1))


def test_video_drift_error_groups_a_results_table_per_video_and_metric():
    rows = []
    for video, drop in (("a", 0.0), ("b", 0.2)):
        values = np.r_[np.full(10, 1.0), np.full(10, 1.0 - drop)]
        rows.append(pd.DataFrame({"video": video, "metric": "clarity", "backend": "lab", "version": "1",
                                  "kind": "frame", "index": np.arange(20), "value": values, "error": ""}))
    table = video_drift_error(pd.concat(rows), n_chunks=2).set_index("video")
    assert table.loc["a", "vde"] == 0.0
    assert table.loc["b", "vde"] == pytest.approx(0.2)
    assert set(table["weighting"]) == {"linear"} and set(table["chunks"]) == {2}
