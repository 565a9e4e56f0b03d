"""The history-guidance weight sweep chooses w for the paper grid: it must never see the test split."""

from __future__ import annotations

import numpy as np

import baselines.registry
import bench.train.evaluate
import metrics.lab.perceptor
from bench.benchmarks import history_guidance_weight
from bench.world import VALIDATION_SEEDS, test_split


def test_weight_sweep_reads_validation_items_only(monkeypatch):
    seen_seeds = []
    weights_built = []

    def fake_generate(generator, item, sections, seed):
        seen_seeds.append(item.seed)
        return np.zeros((1 + 9 * sections, 64, 64, 3), dtype=np.uint8)

    class FakeGenerator:
        class schedule:  # noqa: N801 - stands in for the generator's schedule attribute
            frames_per_section = 9

    def fake_factory(checkpoint, codec, guidance_scale):
        weights_built.append(guidance_scale)
        return FakeGenerator()

    monkeypatch.setattr(bench.train.evaluate, "generate", fake_generate)
    monkeypatch.setitem(baselines.registry.BASELINE_FACTORIES, "history_guidance", fake_factory)
    monkeypatch.setattr(metrics.lab.perceptor.LabPerceptor, "load", classmethod(lambda cls, *a, **k: object()))
    monkeypatch.setattr(history_guidance_weight, "kept_numbers",
                        lambda perceptor, frames, section_frames: {"identity_kept_all": 1.0})

    result = history_guidance_weight.sweep([1.0, 1.5], items=4, sections=2, show_progress=False)

    assert weights_built == [1.0, 1.5]
    assert len(seen_seeds) == 8 and all(seed in VALIDATION_SEEDS for seed in seen_seeds)
    assert not set(seen_seeds) & {item.seed for item in test_split("i2v")}
    assert result["split"] == "validation" and set(result["weights"]) == {"1", "1.5"}
