"""Validation before any work: bounded lengths, integer ranges, finite numbers, generator
parameter values, checkpoint files by content; input paths never relative to the working folder;
the run key follows the generator's resolved settings and code version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import bench.cli
from bench.grid import GridError, load_and_resolve

PROJECT_ROOT = Path(__file__).resolve().parents[1]

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
CHECKPOINT = PROJECT_ROOT / "results" / "checkpoints" / "fp_vanilla.safetensors"
D_CHECKPOINT = PROJECT_ROOT / "results" / "checkpoints" / "fp_vanilla_d.safetensors"
CODEBOOK = PROJECT_ROOT / "results" / "checkpoints" / "fp_vanilla_d_codebook.safetensors"


def write_grid(tmp_path: Path, rows=None, **changes) -> Path:
    document = {
        "name": "limits",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": rows or [{"generator": "fake_video", "params": {"log": str(tmp_path / "log.txt")}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 1},
        "seeds": [0],
        "lengths": {"long": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }
    document.update(changes)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def framepack_row(**params) -> dict:
    return {"schedule": "td_f16k4f4k2f1k1_g9", "checkpoint": str(CHECKPOINT), "params": params}


@pytest.mark.parametrize(("override", "key", "fragment"), [
    ("lengths.long=1000000000000", "lengths.long", "from 1 to 1000"),
    ("lengths=[0]", "lengths.s0", "from 1 to 1000"),
    (f"seeds=[{2**70}]", "seeds[0]", "2**63 - 1"),
    ("rating.k=.nan", "rating.k", "finite"),
    ("resources.num_cpus=.nan", "resources.num_cpus", "finite"),
    ("resources.num_gpus=.inf", "resources.num_gpus", "finite"),
    ("prompts.count=1000000000", "prompts.count", "<= 100000"),
])
def test_unbounded_or_non_finite_grid_values_are_refused_before_any_work(tmp_path, override, key, fragment):
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path), [override])
    assert caught.value.key == key and fragment in str(caught.value)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "log.txt").exists()


def test_the_largest_accepted_seed_and_length_resolve(tmp_path):
    grid = load_and_resolve(write_grid(tmp_path), [f"seeds=[{2**63 - 1}]", "lengths.long=1000"])
    assert grid.runs[0].seed == 2**63 - 1 and grid.runs[0].length.sections == 1000


@pytest.mark.parametrize(("params", "key", "fragment"), [
    ({"steps": 0}, "rows[0].params.steps", "from 1 to 1000"),
    ({"steps": -1}, "rows[0].params.steps", "from 1 to 1000"),
    ({"steps": "many"}, "rows[0].params.steps", "'many'"),
    ({"steps": 2.5}, "rows[0].params.steps", "from 1 to 1000"),
    ({"shift": float("nan")}, "rows[0].params.shift", "finite number > 0"),
    ({"solver": "rk4"}, "rows[0].params.solver", "euler"),
    ({"guidance": float("inf")}, "rows[0].params.guidance", "finite"),
    ({"kv_cache": "yes"}, "rows[0].params.kv_cache", "true or false"),
    ({"codebook": str(CODEBOOK)}, "rows[0].params.codebook", "no discrete history"),
])
def test_bad_framepack_parameter_values_are_refused_before_any_work(tmp_path, params, key, fragment):
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, [framepack_row(**params)]))
    assert caught.value.key == key and fragment in str(caught.value)


def test_bad_baseline_parameter_values_are_refused_before_any_work(tmp_path):
    row = {"baseline": "anchor_frames", "checkpoint": str(PROJECT_ROOT / "results/checkpoints/bl_anchor_frames.safetensors"),
           "params": {"steps": 0}}
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, [row]))
    assert caught.value.key == "rows[0].params.steps"


def test_a_checkpoint_that_is_not_a_safetensors_file_is_refused_by_its_content(tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"PK\x03\x04 a zip file, not a checkpoint" * 10)
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, [{**framepack_row(), "checkpoint": str(fake)}]))
    assert caught.value.key == "rows[0].checkpoint" and "not a safetensors file" in str(caught.value)


def test_a_discrete_history_row_still_takes_its_codebook(tmp_path):
    row = {"schedule": "td_f16k4f4k2f1k1_g9+D", "checkpoint": str(D_CHECKPOINT), "params": {"codebook": str(CODEBOOK)}}
    grid = load_and_resolve(write_grid(tmp_path, [row]))
    assert set(grid.runs[0].files_sha256) == {"checkpoint", "codec", "codebook"}


def test_the_run_key_follows_the_generators_resolved_defaults_and_code_version(tmp_path, monkeypatch):
    import bench.grid.framepack_rows as framepack_rows

    plain = load_and_resolve(write_grid(tmp_path, [framepack_row()]))
    explicit = load_and_resolve(write_grid(tmp_path, [framepack_row(solver="euler", shift=12, steps=25)]))
    assert explicit.runs[0].key == plain.runs[0].key  # the defaults, written out or not, are one setting
    assert plain.runs[0].settings["solver"] == "euler" and plain.runs[0].settings["shift"] == 12.0
    defaults = framepack_rows.framepack_defaults()
    monkeypatch.setattr(framepack_rows, "framepack_defaults", lambda: {**defaults, "solver": "dpmpp_2m"})
    new_default = load_and_resolve(write_grid(tmp_path, [framepack_row()]))
    assert new_default.runs[0].key != plain.runs[0].key
    assert load_and_resolve(write_grid(tmp_path, [framepack_row(solver="euler")])).runs[0].key == plain.runs[0].key
    monkeypatch.undo()
    kind = framepack_rows.FRAMEPACK
    from dataclasses import replace

    from bench.grid.registry import register_generator_kind

    register_generator_kind(replace(kind, version="framepack-next"), replace=True)
    try:
        assert load_and_resolve(write_grid(tmp_path, [framepack_row()])).runs[0].key != plain.runs[0].key
    finally:
        register_generator_kind(kind, replace=True)


def test_grid_input_paths_do_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    grid = load_and_resolve(PROJECT_ROOT / "grids" / "demo.yaml")  # repository-relative checkpoints
    generated = [row for row in grid.rows if row.name not in grid.reference_row_names]  # references have no model
    assert generated and all(Path(row.checkpoint).is_file() for row in generated)
    assert all(Path(row.params["codec"]).is_file() for row in generated)
    local = tmp_path / "grid_dir"
    local.mkdir()
    (local / "mine.safetensors").write_bytes(CHECKPOINT.read_bytes())
    row = {**framepack_row(), "checkpoint": "mine.safetensors"}  # beside the grid file
    path = write_grid(local, [row])
    assert load_and_resolve(path).rows[0].checkpoint == str(local / "mine.safetensors")


def test_cli_refuses_a_store_that_is_a_file_without_a_traceback(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    path = write_grid(tmp_path)
    assert bench.cli.main(["run", str(path), "--store", str(tmp_path / "afile"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert not (tmp_path / "log.txt").exists()


