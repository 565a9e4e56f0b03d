"""A FramePack grid row runs end to end through the harness: schedule + order + checkpoint
-> FramePackGenerator -> run store (tiny random-weight model, the committed lab codec)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.executors import make_executor, run_grid
from bench.grid import load_and_resolve
from bench.grid.framepack_rows import ORDERS
from bench.run_store import RunStore

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
CODEC = Path(__file__).resolve().parents[1] / "results" / "checkpoints" / "codec.safetensors"


def test_harness_knows_every_sampling_order_of_framepack():
    from framepack.section_plan import ORDERS as FRAMEPACK_ORDERS

    assert set(ORDERS) == set(FRAMEPACK_ORDERS)


@pytest.mark.skipif(not CODEC.is_file(), reason="the lab codec checkpoint is not committed yet")
def test_framepack_rows_generate_through_the_run_store(tmp_path):
    import torch

    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    torch.manual_seed(0)
    channels = LabCodec.load(CODEC).config.latent_channels
    model = PackedDiT(PackedDiTConfig(latent_channels=channels, dim=32, depth=1, heads=2, text_layers=1))
    checkpoint = tmp_path / "tiny.safetensors"
    model.save(checkpoint)
    document = {
        "name": "fp-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [
            {"schedule": "f1k1_x_g9_f1k1f2k2f16k4_td", "checkpoint": str(checkpoint),
             "params": {"steps": 1, "codec": str(CODEC)}},
            {"schedule": "td_f16k4f4k2f1k1_g9", "checkpoint": str(checkpoint),
             "params": {"steps": 1, "codec": str(CODEC)}},
        ],
        "prompts": {"source": "lab", "split": "i2v", "count": 1},
        "lengths": {"short": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    summary = run_grid(grid, executor=make_executor("local"), progress=False)
    assert summary.counts == {"generated": 2, "already done": 0}, summary.failed
    store = RunStore(grid.spec.store)
    for run in grid.runs:
        frames = store.read_frames(run.key)
        assert frames.dtype.name == "uint8" and frames.shape[1:] == (64, 64, 3)
        assert len(frames) >= 2 * 9
