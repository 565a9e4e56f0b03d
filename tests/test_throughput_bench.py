"""The throughput benchmark's pieces (not its timings): lever switches, backbone clock, projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.benchmarks.throughput import backbone_clock, markdown, metric_sharing, projection
from metrics.classical import optical_flow
from metrics.lab import perceptor_metrics


def test_the_reference_lever_measures_without_sharing_and_restores_sharing(monkeypatch):
    calls = []
    real = optical_flow.cv2.DISOpticalFlow_create
    monkeypatch.setattr(optical_flow.cv2, "DISOpticalFlow_create", lambda *a: calls.append(1) or real(*a))
    frames = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    with metric_sharing(False):
        optical_flow.dis_flow(frames[0], frames[1])
        optical_flow.dis_flow(frames[0], frames[1])
        assert len(calls) == 2 and perceptor_metrics.PERCEPTION_CACHE_SIZE == 0
    with metric_sharing(True):
        optical_flow.dis_flow(frames[0], frames[1])
        optical_flow.dis_flow(frames[0], frames[1])
        assert len(calls) == 3
    assert optical_flow.FLOW_CACHE_SIZE > 0 and perceptor_metrics.PERCEPTION_CACHE_SIZE > 0


def test_the_backbone_clock_counts_time_inside_the_blocks_only():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4)])

        def forward(self, x):
            return self.blocks[0](x)

    class Generator:
        model = Model()

    with backbone_clock(Generator()) as spent:
        Generator.model(torch.ones(1, 4))
    assert spent[0] > 0
    before = spent[0]
    Generator.model(torch.ones(1, 4))  # hooks are removed afterwards
    assert spent[0] == before


def test_the_projection_divides_the_rows_work_by_the_two_worker_speedup():
    seconds = {"video": 4.0, "video_cpu": 3.0, "load": 0.5, "generate": 3.0, "backbone": 2.0, "decode": 0.2,
               "metrics": 0.5}
    result = {"quick": False, "startup_seconds": 10.0, "parallel": {"speedup": 1.6, "videos": 4,
                                                                     "one_worker_seconds": 16.0, "two_workers_seconds": 10.0},
              "rows": {"a": {"runs": 100, "seconds": seconds, "network_evaluations": 300, "peak_memory_mb": 900},
                       "b": {"runs": 50, "seconds": dict(seconds, video=8.0), "network_evaluations": 600,
                             "peak_memory_mb": 900}}}
    p = projection(result)
    serial = 100 * 4.0 + 50 * 8.0 + 2 * 0.5
    assert p["serial_seconds"] == pytest.approx(serial)
    assert p["study_minutes"] == pytest.approx((10.0 + serial / 1.6) / 60, abs=0.05)
    assert p["idle_study_minutes"] == pytest.approx((10.0 + (150 * 3.0 + 1.0) / 2) / 60, abs=0.05)
    assert p["videos"] == 150
    result.update(projection=p, profile={}, levers={}, machine={"processor": "x86_64", "cpu_count": 2},
                  git={"revision": "abc", "dirty": False})
    assert "on an idle machine" in markdown(result)
