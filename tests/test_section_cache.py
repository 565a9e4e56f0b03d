"""Work constant within a section is done once per section: same frames, bit for bit, for every
generator kind of the paper grids (FramePack rows and each baseline), and the reuse really happens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.grid import load_and_resolve
from bench.grid.registry import generator_kind
from framepack.generator import GenerationRequest, MemorySink
from framepack.section_cache import SectionCache, cached

# One row per generator kind (and per mechanism that changes what a section's steps share).
ROWS = {
    "paper-table1": ["td_f16k4f4k2f1k1_g9", "f1k1_x_g9_f1k1f2k2f16k4_td+D", "f1k1_x_g9_f1k1f2k2f16k4_tc"],
    "paper-table2": ["repeated_i2v", "anchor_frames", "causal_attention",
                     "noisy_history (σ_train random, σ_test 0.1)", "history_guidance (w 1.5)"],
}
CASES = [(grid, row) for grid, rows in ROWS.items() for row in rows]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sampler_of(generator):
    """The FramePackGenerator doing the sampling (repeated image-to-video wraps one)."""
    return getattr(generator, "single", generator)


def frames_of(generator, run) -> np.ndarray:
    sink = MemorySink()
    request = GenerationRequest(run.prompt.prompt, run.prompt.image, num_sections=run.length.sections, seed=run.seed)
    generator.generate(request, sink)
    return sink.frames()


def one_run(grid_name: str, row_name: str, sections: int):
    grid = load_and_resolve(f"grids/{grid_name}.yaml", ["prompts.count=1", "seeds=[3]", f"lengths.long={sections}"])
    return next(r for r in grid.runs if r.row_name == row_name)


@pytest.mark.parametrize("grid_name, row_name", CASES, ids=[row for _, row in CASES])
def test_reusing_section_work_gives_the_same_frames_bit_for_bit(grid_name, row_name):
    run = one_run(grid_name, row_name, sections=2)
    generator = generator_kind(run.row.kind).build(run.row)
    sampler = sampler_of(generator)
    sampler.steps = 3
    assert sampler.section_cache, "a lab model takes a section cache"
    fast = frames_of(generator, run)
    sampler.section_cache = False
    np.testing.assert_array_equal(fast, frames_of(generator, run))


def test_a_section_computes_its_constant_work_once_and_new_inputs_recompute():
    cache = SectionCache()
    calls = []
    context, cond = [torch.zeros(2)], object()
    for _ in range(3):
        with torch.no_grad():
            value = cache.get("memory", (cond, *context), lambda: calls.append(1) or torch.ones(1))
    assert len(calls) == 1 and cache.hits == 2 and cache.misses == 1
    with torch.no_grad():
        cache.get("memory", (cond, torch.zeros(2)), lambda: calls.append(1) or value)  # equal, not the same
    assert len(calls) == 2
    assert cached(None, "memory", (cond,), lambda: 5) == 5


def test_nothing_is_cached_while_gradients_are_recorded():
    cache = SectionCache()
    weight = torch.ones(1, requires_grad=True)
    first = cache.get("x", (), lambda: weight * 2)
    second = cache.get("x", (), lambda: weight * 2)
    assert first is not second and cache.hits == 0


def test_the_packed_dit_reuses_its_section_work_across_steps(monkeypatch):
    run = one_run("paper-table1", "td_f16k4f4k2f1k1_g9", sections=1)
    generator = generator_kind("framepack").build(run.row)
    generator.steps = 4
    caches = []
    original = SectionCache.__init__

    def remember(self):
        original(self)
        caches.append(self)

    monkeypatch.setattr(SectionCache, "__init__", remember)
    frames_of(generator, run)
    assert len(caches) == 1  # one section, one branch
    assert caches[0].misses > 0 and caches[0].hits == 3 * caches[0].misses  # computed once, reused at 3 steps
