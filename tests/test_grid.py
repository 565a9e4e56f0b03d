"""Grid files: parsing, `--set` overrides, validation before any work, run keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import bench.cli
from bench.grid import (
    GridError,
    MissingCheckpointError,
    apply_overrides,
    load_and_resolve,
    load_grid,
    run_key,
)
from bench.grid.prompts import load_prompt_set
from bench.grid.spec import PromptSetSpec

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


def write_safetensors(path: Path, tag: str) -> Path:
    """A small real safetensors file whose content differs by `tag`."""
    from safetensors.numpy import save_file

    save_file({tag: np.zeros(1, np.float32)}, str(path))
    return path


def grid_document(**changes) -> dict:
    document = {
        "name": "g",
        "plugins": [PLUGIN],
        "rows": [
            {"generator": "fake_video", "params": {"drift": 1.0}},
            {"generator": "fake_video", "params": {"drift": 5.0}, "name": "drifty"},
        ],
        "prompts": {"source": "lab", "split": "i2v", "count": 3},
        "seeds": [0, 1],
        "lengths": {"short": 2, "long": 4},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake"},
    }
    document.update(changes)
    return document


def write_grid(tmp_path: Path, document: dict, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_grid_expands_to_rows_times_prompts_seeds_lengths_with_distinct_keys(tmp_path):
    grid = load_and_resolve(write_grid(tmp_path, grid_document()))
    assert len(grid.runs) == 2 * 3 * 2 * 2
    assert len({run.key for run in grid.runs}) == len(grid.runs)
    assert grid.row_names == ["fake(drift=1.0)", "drifty"]
    assert {run.length.sections for run in grid.runs} == {2, 4}
    assert all(run.prompt.image is not None and run.prompt.image.shape == (64, 64, 3) for run in grid.runs)


def test_run_key_ignores_row_name_but_follows_every_input(tmp_path):
    base = load_and_resolve(write_grid(tmp_path, grid_document()))
    renamed_doc = grid_document()
    renamed_doc["rows"][0]["name"] = "another name"
    renamed = load_and_resolve(write_grid(tmp_path, renamed_doc, "renamed.yaml"))
    assert [r.key for r in renamed.runs] == [r.key for r in base.runs]
    changed = load_and_resolve(write_grid(tmp_path, grid_document()), ["rows.0.params.drift=1.5"])
    first_row = [r.key for r in base.runs if r.row.index == 0]
    assert set(first_row).isdisjoint(r.key for r in changed.runs if r.row.index == 0)
    assert [r.key for r in base.runs if r.row.index == 1] == [r.key for r in changed.runs if r.row.index == 1]


def test_run_key_hashes_checkpoint_content_not_its_path(tmp_path):
    for name, content in (("a.bin", b"weights-1"), ("b.bin", b"weights-1"), ("c.bin", b"weights-2")):
        (tmp_path / name).write_bytes(content)

    def keys(checkpoint):
        document = grid_document(rows=[{"generator": "fake_video", "checkpoint": str(tmp_path / checkpoint)}])
        return [r.key for r in load_and_resolve(write_grid(tmp_path, document, f"{checkpoint}.yaml")).runs]

    assert keys("a.bin") == keys("b.bin")
    assert set(keys("a.bin")).isdisjoint(keys("c.bin"))


def test_run_key_is_a_stable_hash_of_the_identity():
    identity = {"kind": "x", "seed": 3, "params": {"b": 1, "a": 2}}
    assert run_key(identity) == run_key({"params": {"a": 2, "b": 1}, "seed": 3, "kind": "x"})
    assert run_key(identity) != run_key({**identity, "seed": 4})
    assert len(run_key(identity)) == 16


def test_set_overrides_change_values_lists_and_nested_keys(tmp_path):
    path = write_grid(tmp_path, grid_document())
    grid = load_and_resolve(path, ["prompts.count=1", "seeds=[7]", "lengths={long: 3}", "rows.1.name=x"])
    assert len(grid.runs) == 2
    assert {r.seed for r in grid.runs} == {7}
    assert grid.row_names[1] == "x"
    assert grid.runs[0].length.sections == 3


def test_apply_overrides_does_not_modify_the_document():
    document = grid_document()
    apply_overrides(document, ["prompts.count=1"])
    assert document["prompts"]["count"] == 3


@pytest.mark.parametrize(
    ("override", "key", "fragment"),
    [
        ("rows.5.name=x", "rows.5", "out of range"),
        ("prompts.count", "--set", "key=value"),
        ("seeds=[0, x]", "seeds[1]", "'x'"),
        ("prompts.count=0", "prompts.count", ">= 1"),
        ("prompts.colour=red", "prompts.colour", "unknown key 'colour'"),
        ("lengths=[medium]", "lengths[0]", "'medium'"),
        ("metrics.drift=[clarity]", "metrics.drift[0]", "not among metrics.names"),
    ],
)
def test_bad_values_and_overrides_name_the_key_and_the_value(tmp_path, override, key, fragment):
    path = write_grid(tmp_path, grid_document())
    with pytest.raises(GridError) as caught:
        load_and_resolve(path, [override])
    assert caught.value.key == key
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_invalid_yaml_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: g\nrows: [\n  - {generator: fake_video\n")
    with pytest.raises(GridError, match=r"not valid YAML at line \d+, column \d+"):
        load_grid(path)


def test_missing_grid_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_grid(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"colour": "red"}, "colour", "unknown key 'colour'"),
        ({"rows": []}, "rows", "at least one row"),
        ({"rows": [{"generator": "fake_video", "shedule": "x"}]}, "rows[0].shedule", "unknown key"),
        ({"rows": [{"baseline": "no_such_baseline"}]}, "rows[0].baseline", "unknown generator/baseline 'no_such_baseline'"),
        ({"rows": [{"generator": "fake_video", "baseline": "x"}]}, "rows[0]", "exactly one of"),
        ({"rows": [{"generator": "fake_video", "params": {"speed": 3}}]}, "rows[0].params.speed", "unknown parameter"),
        ({"metrics": {"names": ["brightness", "sharpness"], "backend": "fake", "provider": "fake"}},
         "metrics.names[1]", "unknown metric 'sharpness'"),
        ({"metrics": {"names": ["brightness"], "backend": "paper", "provider": "fake"}}, "metrics.backend", "'paper'"),
        ({"metrics": {"names": ["brightness"], "provider": "nobody"}}, "metrics.provider", "'nobody'"),
        ({"prompts": {"source": "lab", "split": "i2v", "count": 65}}, "prompts.count", "64 items"),
        ({"prompts": {"source": "web"}}, "prompts.source", "'web'"),
        ({"seeds": [1, 1]}, "seeds", "repeat"),
        ({"plugins": ["missing_plugin_file.py"]}, "plugins[0]", "does not exist"),
    ],
)
def test_grid_errors_name_key_and_bad_value_before_any_work(tmp_path, changes, key, fragment):
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, grid_document(**changes)))
    assert caught.value.key == key, str(caught.value)
    assert fragment in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_missing_checkpoint_names_the_row_the_path_and_the_recipe(tmp_path):
    rows = [{"generator": "fake_video"},
            {"generator": "fake_video", "checkpoint": "results/checkpoints/none.safetensors",
             "recipe": "bench/train/configs/none.yaml"}]
    with pytest.raises(MissingCheckpointError) as caught:
        load_and_resolve(write_grid(tmp_path, grid_document(rows=rows)))
    message = str(caught.value)
    assert "rows[1].checkpoint" in message and "results/checkpoints/none.safetensors" in message
    assert "recipe 'bench/train/configs/none.yaml' does not exist either" in message
    assert isinstance(caught.value, FileNotFoundError)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("recipe: finetune\n")
    rows[1]["recipe"] = str(recipe)
    with pytest.raises(MissingCheckpointError, match=f"create it with `fpbench train {recipe}`"):
        load_and_resolve(write_grid(tmp_path, grid_document(rows=rows)))


def test_framepack_rows_default_the_order_to_the_schedule_form_and_use_its_notation(tmp_path):
    checkpoint = write_safetensors(tmp_path / "fp.safetensors", "x")
    codec = write_safetensors(tmp_path / "codec.safetensors", "c")
    rows = [
        {"schedule": "f1k1_x_g9_f1k1f2k2f16k4_td", "checkpoint": str(checkpoint), "params": {"codec": str(codec)}},
        {"schedule": "td_f16k4f4k2f1k1_g9", "checkpoint": str(checkpoint), "params": {"codec": str(codec)}},
        {"schedule": "td_f16k4f4k2f1k1_g9", "order": "anti_drifting", "checkpoint": str(checkpoint),
         "params": {"codec": str(codec)}},
    ]
    grid = load_and_resolve(write_grid(tmp_path, grid_document(rows=rows)))
    assert [row.order for row in grid.rows] == ["inverted_anti_drifting", "vanilla", "anti_drifting"]
    assert grid.row_names == ["f1k1_x_g9_f1k1f2k2f16k4_td", "td_f16k4f4k2f1k1_g9",
                              "td_f16k4f4k2f1k1_g9 (anti_drifting)"]
    assert set(grid.runs[0].files_sha256) == {"checkpoint", "codec"}


@pytest.mark.parametrize(
    ("row", "key", "fragment"),
    [
        ({"schedule": "f1k9_nonsense"}, "rows[0].schedule", "not a valid schedule"),
        ({"schedule": "td_f16k4f4k2f1k1_g9", "order": "sideways"}, "rows[0].order", "'sideways'"),
        ({"schedule": "td_f16k4f4k2f1k1_g9"}, "rows[0].checkpoint", "need a checkpoint"),
    ],
)
def test_bad_framepack_rows_are_rejected_before_work(tmp_path, row, key, fragment):
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, grid_document(rows=[row])))
    assert caught.value.key == key and fragment in str(caught.value)


def test_prompt_files_in_json_csv_and_txt_with_start_images(tmp_path):
    import cv2

    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "start.png"), image[:, :, ::-1])
    (tmp_path / "p.json").write_text('[{"prompt": "a red square", "image": "start.png", "id": "red"}, "a cat"]')
    (tmp_path / "p.csv").write_text("prompt,image\na red square,start.png\n")
    (tmp_path / "p.txt").write_text("one\n\ntwo\n")
    items = load_prompt_set(PromptSetSpec(source="file", path="p.json", count=10), tmp_path)
    assert [i.id for i in items] == ["red", "p001"]
    assert np.array_equal(items[0].image, image) and items[1].image is None
    csv_items = load_prompt_set(PromptSetSpec(source="file", path="p.csv", count=10), tmp_path)
    assert csv_items[0].image_sha256 == items[0].image_sha256
    assert [i.prompt for i in load_prompt_set(PromptSetSpec(source="file", path="p.txt", count=1), tmp_path)] == ["one"]
    (tmp_path / "bad.json").write_text('[{"prompt": "x", "image": "gone.png"}]')
    with pytest.raises(FileNotFoundError, match="gone.png"):
        load_prompt_set(PromptSetSpec(source="file", path="bad.json", count=10), tmp_path)


def test_cli_prints_grid_errors_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["run", "status", "table", "demo"])
    path = write_grid(tmp_path, grid_document(rows=[{"baseline": "warp_drive"}]))
    assert bench.cli.main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "rows[0].baseline" in err and "warp_drive" in err and "Traceback" not in err
    assert bench.cli.main(["status", str(path), "--set", "seeds=[-1]"]) == 2
    assert "seeds[0]" in capsys.readouterr().err


def test_discrete_history_rows_take_the_codebook_from_params_or_the_checkpoint_sidecar(tmp_path):
    checkpoint = write_safetensors(tmp_path / "fp_d.safetensors", "x")
    write_safetensors(tmp_path / "codec.safetensors", "c")
    write_safetensors(tmp_path / "book.safetensors", "k")
    row = {"schedule": "td_f16k4f4k2f1k1_g9+D", "checkpoint": str(checkpoint),
           "params": {"codec": str(tmp_path / "codec.safetensors")}}
    with pytest.raises(GridError) as caught:
        load_and_resolve(write_grid(tmp_path, grid_document(rows=[row])))
    assert caught.value.key == "rows[0].params.codebook"
    checkpoint.with_suffix(".json").write_text('{"codebook": "%s"}' % (tmp_path / "book.safetensors"))
    grid = load_and_resolve(write_grid(tmp_path, grid_document(rows=[row])))
    assert set(grid.runs[0].files_sha256) == {"checkpoint", "codec", "codebook"}
    assert grid.rows[0].params["codebook"] == str((tmp_path / "book.safetensors").resolve())
    with pytest.raises(GridError, match="unknown FramePack parameter 'stepz'"):
        load_and_resolve(write_grid(tmp_path, grid_document(rows=[{**row, "params": {"stepz": 3}}])))


def test_skip_missing_leaves_out_rows_without_checkpoints_and_says_why(tmp_path):
    rows = [{"generator": "fake_video"},
            {"generator": "fake_video", "name": "untrained", "checkpoint": str(tmp_path / "none.safetensors")}]
    grid = load_and_resolve(write_grid(tmp_path, grid_document(rows=rows)), skip_missing=True)
    assert grid.row_names == ["fake(drift=4.0)"]
    assert "none.safetensors" in grid.skipped_rows["untrained"]
    assert {run.row_name for run in grid.runs} == {"fake(drift=4.0)"}
    with pytest.raises(GridError, match="every row was skipped"):
        load_and_resolve(write_grid(tmp_path, grid_document(rows=rows[1:])), skip_missing=True)
    with pytest.raises(GridError, match="unknown generator"):  # other checks still fail
        load_and_resolve(write_grid(tmp_path, grid_document(rows=[*rows, {"baseline": "nope"}])), skip_missing=True)
