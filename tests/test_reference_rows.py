"""Reference rows: the real clips are the world's own continuation of each test item, the static
video repeats the start frame, and neither is ranked in tables nor judged in votes or ELO."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.grid import GridError, load_and_resolve
from bench.grid.registry import generator_kind
from bench.grid.spec import RowSpec
from bench.world import test_split
from framepack.generator import GenerationRequest, MemorySink

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


def generate(kind: str, request: GenerationRequest, **params) -> np.ndarray:
    generator = generator_kind(kind).build(RowSpec(kind=kind, index=0, kind_field="generator", params=params))
    sink = MemorySink()
    generator.generate(request, sink)
    return sink.frames()


def test_real_reference_row_is_the_worlds_render_of_the_items_continuation():
    item = test_split("i2v")[3]
    frames = generate("reference_real", GenerationRequest(item.prompt, item.start_frame, num_sections=2))
    assert frames.shape == (1 + 2 * 9, 64, 64, 3)  # as long as a g9 FramePack video with its start frame
    np.testing.assert_array_equal(frames, item.reference_clip(19).frames)
    np.testing.assert_array_equal(frames[0], item.start_frame)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).max() > 0  # the subject moved

    text_item = test_split("t2v")[5]
    text_frames = generate("reference_real", GenerationRequest(text_item.prompt, None, num_sections=3),
                           section_frames=4)
    np.testing.assert_array_equal(text_frames, text_item.reference_clip(12).frames)


def test_static_reference_row_repeats_the_start_frame():
    item = test_split("i2v")[7]
    frames = generate("reference_static", GenerationRequest(item.prompt, item.start_frame, num_sections=2))
    assert frames.shape == (19, 64, 64, 3)
    assert (frames == item.start_frame[None]).all()


def test_reference_rows_refuse_prompts_that_are_not_lab_items_and_take_no_checkpoint():
    with pytest.raises(ValueError, match="not one"):
        generate("reference_real", GenerationRequest("a cat on a mat", None, num_sections=1))
    kind = generator_kind("reference_static")
    with pytest.raises(GridError, match="section_frames"):
        kind.validate(RowSpec(kind="reference_static", index=2, kind_field="generator", params={"section_frames": 0}))
    with pytest.raises(GridError, match="no checkpoint"):
        kind.validate(RowSpec(kind="reference_static", index=2, kind_field="generator", checkpoint="x.safetensors"))


def test_reference_rows_are_measured_but_neither_ranked_nor_rated(tmp_path):
    from bench.demo import run_demo

    document = {
        "name": "with-references",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0}},
                 {"generator": "fake_video", "params": {"drift": 12.0}},
                 {"generator": "reference_real", "params": {"section_frames": 3}},
                 {"generator": "reference_static", "params": {"section_frames": 3}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2},
        "seeds": [0],
        "lengths": {"long": 2},
        # the static video has no flicker at all: it would be "best" if references were ranked
        "metrics": {"names": ["flicker"], "backend": "fake", "provider": "fake", "drift": []},
        "rating": {"enabled": True, "judges": "simulated", "per_row": 20, "seed": 1},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    references = ["reference: real clips", "reference: static (start frame)"]
    assert grid.reference_row_names == references
    assert grid.ranked_row_names == ["fake(drift=1.0)", "fake(drift=12.0)"]

    result = run_demo(path, results_root=tmp_path / "results", progress=False)
    summary = result.tables["summary"]
    assert set(references) <= set(summary["row"]) and (summary.loc[summary["row"].isin(references), "n"] == 2).all()
    flicker = summary[summary["metric"] == "flicker"].set_index("row")
    assert flicker.loc["reference: static (start frame)", "mean"] < flicker["mean"].drop(references).min()
    assert not flicker.loc[references, "best"].any() and flicker.loc["fake(drift=1.0)", "best"]
    board = pd.read_parquet(tmp_path / "results" / "with-references" / "ratings" / "ratings.parquet")
    assert set(board["model"]) == set(grid.ranked_row_names)
    battles = pd.read_parquet(tmp_path / "results" / "with-references" / "ratings" / "battles.parquet")
    assert not set(battles["model_a"]).union(battles["model_b"]) & set(references)
