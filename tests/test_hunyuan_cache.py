"""Step caches on the full-scale FramePack transformer: with one on, fewer blocks (or layers) run and the
frames move by a bounded amount; with none, the frames are those of the plain sampler (tiny random
weights, offline)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from framepack.generator import GenerationRequest
from framepack.hunyuan.cache import CacheSpec, ComputeCounter
from framepack.hunyuan.generator import PromptEmbeddings, load_hunyuan_generator, with_options
from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

pytestmark = pytest.mark.full_scale

SIZE = 16
STEPS = 8
# Frames are in [0, 1]. On this tiny random model the caches below moved frames by at most 0.11
# (MagCache with flat ratios, the most aggressive); the bound leaves room for other BLAS builds.
MAX_FRAME_CHANGE = 0.25


def prompt_embeddings(prompt: str) -> PromptEmbeddings:
    generator = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))
    return PromptEmbeddings(torch.randn(1, 5, 16, generator=generator), torch.ones(1, 5),
                            torch.randn(1, 8, generator=generator))


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    folder = save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path_factory.mktemp("tiny"))
    return load_hunyuan_generator(folder, prompt_encoder=prompt_embeddings, height=SIZE, width=SIZE, steps=STEPS,
                                  window=2, device="cpu")


def frames(generator) -> np.ndarray:
    chunks = {}
    image = np.random.default_rng(5).integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
    request = GenerationRequest(prompt="a blue square", start_image=image, num_sections=2, seed=1)
    generator.generate_unit_frames(request, lambda first, x: chunks.__setitem__(first, x.numpy()))
    return np.concatenate([chunk for _, chunk in sorted(chunks.items())])


@pytest.fixture(scope="module")
def uncached(generator):
    return frames(generator), dict(generator.last_compute)


def test_without_a_cache_every_block_of_every_call_runs(generator, uncached):
    _, compute = uncached
    # 2 sections x 8 steps, each call through the tiny model's 2 blocks (1 double, 1 single).
    assert compute == {"network_evaluations": 16, "blocks_computed": 32, "blocks_skipped": 0,
                       "linear_calls": compute["linear_calls"], "cache": None}


@pytest.mark.parametrize(
    ("cache", "skips_whole_blocks"),
    [
        ({"kind": "first_block", "threshold": 0.5}, True),
        ({"kind": "mag", "mag_ratios": [1.0] * STEPS, "threshold": 0.5, "retention_ratio": 0.0}, True),
        ({"kind": "taylorseer", "cache_interval": 2, "disable_cache_before_step": 1}, False),
        ({"kind": "faster", "spatial_attention_block_skip_range": 2}, False),
    ],
    ids=["first_block", "mag", "taylorseer", "faster"],
)
def test_a_cache_runs_less_and_moves_frames_within_the_bound(generator, uncached, cache, skips_whole_blocks):
    plain_frames, plain = uncached
    cached = with_options(generator, cache=cache)
    cached_frames = frames(cached)
    compute = cached.last_compute
    assert compute["network_evaluations"] == plain["network_evaluations"]
    assert compute["linear_calls"] < plain["linear_calls"]
    if skips_whole_blocks:
        assert compute["blocks_skipped"] > 0
        assert compute["blocks_computed"] + compute["blocks_skipped"] == plain["blocks_computed"]
    change = np.abs(cached_frames - plain_frames).max()
    assert 0 < change <= MAX_FRAME_CHANGE


def test_after_a_cached_run_the_transformer_is_plain_again(generator, uncached):
    frames(with_options(generator, cache={"kind": "first_block", "threshold": 0.5}))
    assert not generator.pipeline.transformer.is_cache_enabled
    np.testing.assert_array_equal(frames(generator), uncached[0])
    assert generator.last_compute["blocks_skipped"] == 0


def test_a_cache_that_never_triggers_gives_identical_frames(generator, uncached):
    # A threshold of 0 never finds the first block's residual "unchanged": nothing is skipped.
    never = with_options(generator, cache={"kind": "first_block", "threshold": 0.0})
    np.testing.assert_array_equal(frames(never), uncached[0])
    assert never.last_compute["blocks_skipped"] == 0


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"kind": "teacache"}, "cache kind must be one of"),
        ({"threshold": 0.1}, "mapping with a `kind`"),
        ({"kind": "first_block", "treshold": 0.1}, "treshold"),
        ({"kind": "mag", "threshold": 0.1}, "mag_ratios"),
    ],
)
def test_bad_cache_params_are_refused_before_any_work(value, match):
    with pytest.raises(ValueError, match=match):
        CacheSpec.parse(value)


def test_the_counter_tells_a_skipped_block_from_a_computed_one():
    class Block(torch.nn.Module):
        def __init__(self, skip):
            super().__init__()
            self.linear, self.skip = torch.nn.Linear(2, 2), skip

        def forward(self, x):
            return x if self.skip else self.linear(x)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([Block(False), Block(True), Block(False)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    model = Model()
    counter = ComputeCounter(model)
    model(torch.zeros(1, 2))
    model(torch.zeros(1, 2))
    assert counter.report() == {"network_evaluations": 2, "blocks_computed": 4, "blocks_skipped": 2,
                                "linear_calls": 4, "cache": None}
    counter.remove()
    model(torch.zeros(1, 2))
    assert counter.network_evaluations == 2
