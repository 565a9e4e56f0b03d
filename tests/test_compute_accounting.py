"""Compute accounting: network evaluations and decode time counted by the generator, phase
seconds and peak memory recorded in every run's provenance and status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.executors import make_executor, run_grid
from bench.executors.compute import PHASES, ComputeRecord, peak_memory_mb
from bench.executors.run_task import rescored_costs
from bench.grid import load_and_resolve
from bench.run_store import RunStore
from framepack.framepack_generator import SectionInputs
from framepack.generator import GenerationCost, GenerationRequest, MemorySink
from tests.test_framepack_generator import image, make

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


@pytest.mark.parametrize("guidance, per_step", [(None, 1), (2.0, 2)])
def test_the_generator_counts_every_network_evaluation_and_its_decode_time(guidance, per_step):
    generator, model = make(steps=3, guidance=guidance,
                            unconditional=lambda inputs, _: SectionInputs("", inputs.context))
    cost = GenerationCost()
    generator.generate(GenerationRequest("a", image(0), num_sections=4, seed=0, cost=cost), MemorySink())
    assert cost.network_evaluations == 4 * 3 * per_step == len(model.calls)
    assert cost.decode_seconds > 0


def test_a_request_without_a_cost_generates_the_same_frames():
    generator, _ = make(steps=2)
    with_cost, without = MemorySink(), MemorySink()
    generator.generate(GenerationRequest("a", image(1), num_sections=3, seed=5, cost=GenerationCost()), with_cost)
    generator.generate(GenerationRequest("a", image(1), num_sections=3, seed=5), without)
    np.testing.assert_array_equal(with_cost.frames(), without.frames())


def test_every_finished_run_records_phase_seconds_and_peak_memory(tmp_path):
    document = {
        "name": "cost-test", "plugins": [PLUGIN], "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 2.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 1}, "seeds": [0], "lengths": {"long": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    run_grid(grid, executor=make_executor("local"), progress=False)
    folder = RunStore(grid.spec.store).run_dir(grid.runs[0].key)
    compute = json.loads((folder / "provenance.json").read_text())["compute"]
    assert set(compute["seconds"]) == set(PHASES)
    assert compute["seconds"]["generate"] > 0 and compute["seconds"]["encode"] > 0 and compute["seconds"]["metrics"] > 0
    assert compute["peak_memory_mb"] > 0
    assert json.loads((folder / "status.json").read_text())["compute"] == compute


def test_phases_add_up_and_unknown_phases_are_refused():
    record = ComputeRecord().start()
    with record.phase("metrics"):
        sum(range(10000))
    with record.phase("metrics"):
        pass
    assert record.seconds["metrics"] > 0 and record.seconds["generate"] == 0
    with pytest.raises(ValueError, match="unknown compute phase 'paint'"):
        with record.phase("paint"):
            pass
    assert record.finish()["peak_memory_mb"] == pytest.approx(peak_memory_mb(), rel=0.5)


def test_a_rescore_keeps_the_generation_costs_and_adds_the_metrics_time():
    generated = {"seconds": dict(dict.fromkeys(PHASES, 1.0), generate=5.0), "network_evaluations": 300,
                 "peak_memory_mb": 900.0, "peak_memory_scope": "run"}
    rescore = {"seconds": dict(dict.fromkeys(PHASES, 0.0), metrics=0.5, write=0.1), "network_evaluations": 0,
               "peak_memory_mb": 400.0, "peak_memory_scope": "run"}
    merged = rescored_costs(generated, rescore)
    assert merged["seconds"]["generate"] == 5.0 and merged["seconds"]["metrics"] == 1.5
    assert merged["network_evaluations"] == 300 and merged["peak_memory_mb"] == 900.0
    assert rescored_costs(None, rescore) == rescore
