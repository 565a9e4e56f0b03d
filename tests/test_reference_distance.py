"""Reference-based drift (set-level): Fréchet distance to real video per window, lab and paper (FVD) backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.world import test_split
from bench.world.continuations import alternative_continuation
from bench.world.drift_effects import blur
from bench.world.prompt import describe
from metrics.reference_distance import frechet_distance
from metrics.registry import get_set_metric_class, set_metric_classes
from metrics.weights import MissingWeightsError

FRAMES = 48


@pytest.fixture(scope="module")
def real_sets():
    items = test_split("i2v")[:6]
    true = [item.reference_clip(FRAMES).frames for item in items]
    reference = [alternative_continuation(item.attributes, item.seed, 0, FRAMES) for item in items]
    floor = [alternative_continuation(item.attributes, item.seed, 1, FRAMES) for item in items]
    return items, true, reference, floor


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (20000, 2))
    b = rng.normal(0.0, 1.0, (20000, 2)) * np.array([2.0, 1.0]) + np.array([3.0, 0.0])
    # ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) = 9 + (1 + 4 − 2·2) + (1 + 1 − 2) = 10
    assert frechet_distance(a, b) == pytest.approx(10.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(a[:1], b)


def test_alternative_continuations_share_the_start_frame_and_prompt_but_not_the_future(real_sets):
    items, true, reference, floor = real_sets
    for item, ref, other in zip(items, reference, floor, strict=True):
        assert np.array_equal(ref[0], item.start_frame) and np.array_equal(other[0], item.start_frame)
        assert not np.array_equal(ref[-1], other[-1])
    assert sum(not np.array_equal(c[-1], r[-1]) for c, r in zip(true, reference, strict=True)) >= 5
    again = alternative_continuation(items[0].attributes, items[0].seed, 0, FRAMES)
    assert np.array_equal(again, reference[0])  # deterministic
    assert describe(items[0].attributes) == items[0].prompt


def test_lab_distance_sits_at_the_floor_for_real_clips_and_rises_with_the_horizon_for_drifting_ones(real_sets):
    _, true, reference, floor = real_sets
    metric = get_set_metric_class("reference_distance", "lab")()
    real = metric.measure_sets("real", true, reference, floor, n_windows=4)
    drifting = metric.measure_sets("blur", [blur(v, 2.5) for v in true], reference, floor, n_windows=4)
    real_curve = real[real["kind"] == "window"]
    # Real clips: within a factor of 2 of the real-vs-real floor in every window.
    assert np.all(real_curve["value"] < 2 * real_curve["floor"] + 1e-3)
    curve = drifting[drifting["kind"] == "window"]["value"].to_numpy()
    assert np.all(np.diff(curve) > 0)  # farther from real video the longer it runs
    end = drifting.set_index("kind").loc["end"]
    assert end["value"] > 10 * end["floor"]
    assert set(drifting["kind"]) == {"window", "start", "end", "contrast"}
    contrast = drifting.set_index("kind").loc["contrast", "value"]
    assert contrast == pytest.approx(abs(end["value"] - drifting.set_index("kind").loc["start", "value"]))


class RandomI3D(nn.Module):
    """A randomly initialised stand-in with the real detector's call contract and output width."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, (3, 8, 8), stride=(2, 8, 8))
        self.head = nn.Linear(8, 400)

    def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))


@pytest.fixture(scope="module")
def i3d_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("i3d")
    torch.manual_seed(0)
    torch.jit.script(RandomI3D()).save(str(folder / "i3d_torchscript.pt"))
    return str(folder)


def test_fvd_with_a_random_torchscript_i3d_in_the_real_format(real_sets, i3d_dir):
    _, true, reference, floor = real_sets
    metric = get_set_metric_class("reference_distance", "paper")(weights_dir=i3d_dir)
    assert metric.available() == (True, "")
    same = metric.measure_sets("same", reference[:4], reference[:4], floor[:4], n_windows=2)
    assert np.allclose(same["value"], 0.0, atol=1e-6)
    black = [np.zeros_like(v) for v in true[:4]]
    far = metric.measure_sets("black", black, reference[:4], floor[:4], n_windows=2)
    assert (far.loc[far["kind"] == "window", "value"] > far.loc[far["kind"] == "window", "floor"]).all()


def test_fvd_without_the_i3d_file_names_it_and_where_it_goes(real_sets, tmp_path):
    _, true, reference, floor = real_sets
    metric = get_set_metric_class("reference_distance", "paper")(weights_dir=str(tmp_path))
    ok, reason = metric.available()
    assert not ok and "i3d_torchscript.pt" in reason and "never downloaded" in reason
    with pytest.raises(MissingWeightsError, match="i3d_torchscript.pt.*Place it at"):
        metric.measure_sets("x", true[:2], reference[:2], floor[:2], n_windows=2)


def test_set_level_metrics_are_registered_as_per_set():
    found = {(cls.name, cls.backend): cls for cls in set_metric_classes()}
    assert {("reference_distance", "lab"), ("reference_distance", "paper")} <= set(found)
    assert all(cls.granularity == "per_set" for cls in found.values())


def test_features_are_cached_by_content(real_sets, tmp_path):
    _, true, reference, floor = real_sets
    first = get_set_metric_class("reference_distance", "lab")(cache=str(tmp_path))
    result = first.measure_sets("real", true[:3], reference[:3], floor[:3], n_windows=2)
    assert len(list((tmp_path / "set_features").glob("*.npz"))) == 9
    second = get_set_metric_class("reference_distance", "lab")(cache=str(tmp_path))
    second.range_features = None  # a second instance must not need to compute anything
    assert second.measure_sets("real", true[:3], reference[:3], floor[:3], n_windows=2).equals(result)


def test_metrics_list_shows_set_level_metrics_and_weights_lists_the_i3d_file(capsys):
    from bench.cli import main

    assert main(["metrics", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "reference_distance" in listing and "per_set" in listing
    assert main(["weights", "--json"]) == 0
    assert "i3d_torchscript.pt" in capsys.readouterr().out
