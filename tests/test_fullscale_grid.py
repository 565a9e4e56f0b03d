"""`fpbench run --dry-run` lists every file a grid needs before any work; on a machine without the
full-scale weights it names them and exits non-zero without a traceback (offline)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.cli import main

pytestmark = pytest.mark.full_scale

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_caches(tmp_path, monkeypatch):
    """No stray weight caches: TORCH_HOME / HF_HOME / HOME point at empty folders."""
    for name in ("TORCH_HOME", "HF_HOME", "HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.chdir(tmp_path)


def test_dry_run_of_the_full_scale_grid_lists_missing_weights_and_fails_cleanly(clean_caches, tmp_path, capsys):
    code = main(["run", "--dry-run", str(REPO / "grids" / "fullscale-paper.yaml")])
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())  # undo the console's line wrapping
    assert code == 1
    assert "Traceback" not in text
    assert "files missing: the grid cannot run on this machine" in text
    for expected in (
        "weights/framepack-i2v/transformer/config.json", "lllyasviel/FramePackI2V_HY",
        "weights/framepack-f1/transformer/config.json", "lllyasviel/FramePack_F1_I2V_HY_20250503",
        "weights/skyreels-v2-df-14b-540p/transformer/config.json", "Skywork/SkyReels-V2-DF-14B-540P-Diffusers",
        "weights/hunyuanvideo-i2v/model_index.json", "hunyuanvideo-community/HunyuanVideo-I2V",
        "prompts/fullscale-i2v.json", "for metric clarity [paper]",
    ):
        assert expected in text, expected
    assert not (tmp_path / "runs").exists()  # nothing was run


def test_dry_run_says_ready_when_every_file_is_present(clean_caches, tmp_path, capsys):
    from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

    save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path / "tiny")
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent("""
        name: tiny-full-scale
        rows:
          - generator: hunyuan
            params: {weights: tiny, height: 16, width: 16, steps: 2, window: 2, device: cpu,
                     cache: {kind: first_block, threshold: 0.1}}
        prompts: {source: lab, split: i2v, count: 2}
        seeds: [0]
        lengths: {short: 1}
        metrics: {names: [clarity], backend: classical}
    """))
    code = main(["run", "--dry-run", str(grid)])
    text = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "present tiny/transformer/config.json" in text and "MISSING" not in text
    assert "grid tiny-full-scale is ready (2 runs); nothing was run" in text
    assert not (tmp_path / "runs").exists()


def test_a_bad_row_param_is_named_by_the_dry_run(clean_caches, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent("""
        rows:
          - generator: skyreels_df
            params: {weights: w, addnoise_condition: 2000}
        prompts: {source: lab, split: i2v, count: 1}
        metrics: {names: [clarity], backend: classical}
    """))
    code = main(["run", "--dry-run", str(grid)])
    error = capsys.readouterr().err
    assert code != 0 and "rows[0].params" in error and "addnoise_condition" in error
    assert "Traceback" not in error


def test_skip_missing_leaves_out_full_scale_rows_without_weights(clean_caches, tmp_path):
    from bench.grid import load_and_resolve
    from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

    save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path / "tiny")
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent("""
        rows:
          - generator: hunyuan
            params: {weights: tiny, height: 16, width: 16, steps: 2, window: 2, device: cpu}
          - generator: skyreels_df
            params: {weights: nowhere}
        prompts: {source: lab, split: i2v, count: 1}
        metrics: {names: [clarity], backend: classical}
    """))
    resolved = load_and_resolve(grid, skip_missing=True)
    assert resolved.row_names == ["hunyuan:f1k1_x_g2_f1k1f2k2f16k4_td"]
    [(name, reason)] = resolved.skipped_rows.items()
    assert name.startswith("skyreels_df") and "nowhere/transformer/config.json" in reason


def test_a_full_scale_run_records_its_compute_in_the_provenance(clean_caches, tmp_path):
    import json

    from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

    save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path / "tiny")
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent("""
        rows:
          - generator: hunyuan
            params: {weights: tiny, height: 32, width: 32, steps: 6, window: 2, device: cpu,
                     cache: {kind: first_block, threshold: 0.5}}
        prompts: {source: lab, split: i2v, count: 1}
        lengths: {short: 1}
        metrics: {names: [clarity], backend: classical}
    """))
    assert main(["run", str(grid), "--no-progress", "--no-table", "--store", str(tmp_path / "runs")]) == 0
    [provenance] = list((tmp_path / "runs").rglob("provenance.json"))
    compute = json.loads(provenance.read_text())["compute"]
    assert compute["network_evaluations"] == 6 and compute["cache"] == "first_block(threshold=0.5)"
    assert compute["blocks_skipped"] > 0 and compute["blocks_computed"] + compute["blocks_skipped"] == 12
