"""Colour drift (classical): lightness, contrast, chroma and CIEDE2000 shift curves.

Validity: a steady real lab clip reads ~0 drift; synthetic darkening, desaturation, contrast creep
and hue rotation, each ramped over the video, are ranked by strength by the curve that reads them.
"""

import numpy as np
import pytest

from bench.world import test_split
from bench.world.drift_effects import contrast_creep, darken, desaturate, rotate_hue
from metrics import evaluate
from metrics.drift import start_end_contrast

NAMES = ["colour_lightness", "colour_contrast", "colour_chroma", "colour_shift"]
STRENGTHS = (0.1, 0.3, 0.6)


@pytest.fixture(scope="module")
def real_item():
    item = test_split("i2v")[0]
    return item, item.reference_clip(48).frames


def drift(frames, reference):
    results = evaluate(frames, names=NAMES, backends="classical", reference=reference, on_error="raise")
    return start_end_contrast(results).set_index("metric")["delta"]


def test_a_steady_real_clip_reads_almost_no_colour_drift(real_item):
    item, frames = real_item
    deltas = drift(frames, item.start_frame)
    assert deltas["colour_lightness"] < 0.5 and deltas["colour_chroma"] < 0.5
    assert deltas["colour_contrast"] < 0.5 and deltas["colour_shift"] < 0.5


@pytest.mark.parametrize("degrade, metric", [
    (darken, "colour_lightness"), (desaturate, "colour_chroma"),
    (contrast_creep, "colour_contrast"), (rotate_hue, "colour_shift"),
])
def test_each_colour_degradation_is_ranked_by_strength(real_item, degrade, metric):
    item, frames = real_item
    base = drift(frames, item.start_frame)[metric]
    deltas = [drift(degrade(frames, s), item.start_frame)[metric] for s in STRENGTHS]
    assert base < deltas[0] < deltas[1] < deltas[2]
    assert deltas[2] > 2.0  # a visible change, in CIELAB units


def test_hue_rotation_moves_the_colour_shift_but_not_the_lightness(real_item):
    item, frames = real_item
    deltas = drift(rotate_hue(frames, 0.3), item.start_frame)
    assert deltas["colour_shift"] > 5 * deltas["colour_lightness"]


def test_colour_shift_compares_with_the_start_image_else_the_first_frame(real_item):
    item, frames = real_item
    dark_start = (item.start_frame * 0.5).astype(np.uint8)
    with_image = evaluate(frames, names=["colour_shift"], backends="classical", reference=dark_start)
    without = evaluate(frames, names=["colour_shift"], backends="classical")
    first_with = with_image[with_image["kind"] == "frame"]["value"].iloc[0]
    first_without = without[without["kind"] == "frame"]["value"].iloc[0]
    assert first_without == pytest.approx(0.0, abs=1e-9)
    assert first_with > 10.0


def test_colour_drift_runs_at_any_resolution():
    big = np.full((3, 300, 500, 3), (200, 40, 40), np.uint8)
    results = evaluate(big, names=NAMES, backends="classical", on_error="raise")
    lightness = results[(results["metric"] == "colour_lightness") & (results["kind"] == "frame")]["value"]
    assert len(lightness) == 3 and lightness.nunique() == 1 and 40 < lightness.iloc[0] < 60
