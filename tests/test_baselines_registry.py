"""The baselines as grid rows: registered kinds, checked params, and generation through the run store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from baselines.registry import BASELINE_FACTORIES, BASELINE_PARAMETERS
from bench.grid import GridError, generator_kind, load_grid

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = str(ROOT / "tests" / "fake_harness_plugin.py")
CODEC = ROOT / "results" / "checkpoints" / "codec.safetensors"
FIVE = {"repeated_i2v", "anchor_frames", "causal_attention", "noisy_history", "history_guidance"}


def test_all_five_baselines_are_registered_with_their_parameters():
    assert set(BASELINE_FACTORIES) == FIVE == set(BASELINE_PARAMETERS)
    for name in FIVE:
        assert generator_kind(name).needs_checkpoint
        assert "steps" in BASELINE_PARAMETERS[name]


def test_paper_table2_baseline_rows_validate():
    spec = load_grid(ROOT / "grids" / "paper-table2.yaml")
    baseline_rows = [row for row in spec.rows if row.kind in BASELINE_FACTORIES]
    assert {row.kind for row in spec.rows} - {"framepack"} - FIVE == {"reference_real", "reference_static"}
    assert {row.kind for row in baseline_rows} == FIVE
    for row in baseline_rows:
        generator_kind(row.kind).validate(row)
        assert row.recipe and (ROOT / row.recipe).is_file()
    sigmas = sorted(row.params["sigma_test"] for row in baseline_rows if row.kind == "noisy_history")
    assert sigmas == [0.0, 0.1, 0.1, 0.5]


def test_an_unknown_baseline_parameter_is_named():
    from bench.grid.spec import RowSpec

    row = RowSpec(kind="noisy_history", index=3, kind_field="baseline", checkpoint="x", params={"sigma": 0.1})
    with pytest.raises(GridError, match="sigma_test"):
        generator_kind("noisy_history").validate(row)


@pytest.mark.skipif(not CODEC.is_file(), reason="the lab codec checkpoint is not committed yet")
def test_every_baseline_row_generates_through_the_run_store(tmp_path):
    import torch

    from bench.executors import make_executor, run_grid
    from bench.grid import load_and_resolve
    from bench.run_store import RunStore
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    torch.manual_seed(0)
    channels = LabCodec.load(CODEC).config.latent_channels
    checkpoint = tmp_path / "tiny.safetensors"
    PackedDiT(PackedDiTConfig(latent_channels=channels, dim=32, depth=1, heads=2, text_layers=0)).save(checkpoint)
    common = {"steps": 1, "frames_per_section": 3, "codec": str(CODEC)}
    rows = [{"baseline": name, "checkpoint": str(checkpoint), "params": dict(common)} for name in sorted(FIVE)]
    next(row for row in rows if row["baseline"] == "noisy_history")["params"]["sigma_test"] = 0.5
    document = {
        "name": "baselines-test", "plugins": [PLUGIN], "store": str(tmp_path / "runs"), "rows": rows,
        "prompts": {"source": "lab", "split": "i2v", "count": 1}, "lengths": {"short": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    summary = run_grid(grid, executor=make_executor("local"), progress=False)
    assert summary.counts == {"generated": 5, "already done": 0}, summary.failed
    store = RunStore(grid.spec.store)
    for run in grid.runs:
        frames = store.read_frames(run.key)
        assert frames.shape == (1 + 2 * 3, 64, 64, 3)
