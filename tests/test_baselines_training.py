"""Baseline fine-tune recipes: the right window, the baseline's backbone in the loss, configs that load."""

import json
import random

import numpy as np
import pytest
import torch

from baselines.backbone import BaselineBackbone
from baselines.history_noise import FixedHistoryLevel, ScaledHistoryLevel
from bench.cli.train import load_recipe
from bench.train.baselines import BASELINES, BaselineTrainConfig, train_baseline, training_adapter
from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, random_batch
from bench.world import sample_clip
from framepack.lab.codec import LabCodec, LabCodecConfig
from framepack.lab.model import PackedDiT

TINY_MODEL = {"dim": 16, "depth": 1, "heads": 2, "mlp_ratio": 1.0, "text_vocab": 64}


@pytest.fixture(scope="module")
def codec_path(tmp_path_factory):
    frames = np.concatenate([sample_clip(seed, 2).frames for seed in range(3)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=4, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    path = tmp_path_factory.mktemp("codec") / "codec.safetensors"
    codec.save(path)
    return str(path)


def tiny_config(tmp_path, codec_path, baseline, **overrides) -> BaselineTrainConfig:
    values = dict(
        baseline=baseline, frames_per_section=2, out=str(tmp_path / "out" / f"bl_{baseline}.safetensors"),
        run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path.parent / "cache"), base=None, model=TINY_MODEL,
        codec=codec_path, max_sections=1 if baseline == "repeated_i2v" else 2, train_clips=3, clip_frames=7,
        heldout_clips=2, batch_size=2, max_steps=2, eval_batches=1, eval_batch_size=2, eval_steps=1, threads=1,
        lr=1e-3, warmup_steps=1,
    )
    values.update(overrides)
    return BaselineTrainConfig(**values)


@pytest.mark.parametrize(
    "baseline, schedule",
    [("repeated_i2v", "td_f1k1_g2"), ("anchor_frames", "f1k1_x_f1k1_g2"), ("causal_attention", "td_f2k1_g2"),
     ("noisy_history", "td_f2k1_g2"), ("history_guidance", "td_f2k1_g2")],
)
def test_each_baseline_fine_tunes_on_its_window_and_records_itself(tmp_path, codec_path, baseline, schedule):
    config = tiny_config(tmp_path, codec_path, baseline)
    assert (config.schedule, config.order) == (schedule, "vanilla")
    report = train_baseline(config, show_progress=False)
    assert report["baseline"] == baseline and report["steps"] == 2
    sidecar = json.loads((tmp_path / "out" / f"bl_{baseline}.json").read_text())
    assert sidecar["baseline"] == baseline and sidecar["schedule"] == schedule
    PackedDiT.load(config.out)  # a loadable checkpoint
    from bench.generate import build_generator

    generator = build_generator(config.out)  # fpbench generate samples it with its mechanism
    assert generator.name.startswith(baseline)


def test_the_loss_goes_through_the_baselines_backbone(tmp_path, codec_path, monkeypatch):
    import bench.train.baselines as recipe

    seen = []
    real = recipe.training_adapter

    def recording_adapter(config):
        adapt = real(config)

        def wrapped(module):
            backbone = adapt(module)
            original = backbone.history_context

            def history_context(context, timesteps):
                result = original(context, timesteps)
                seen.append((module.training, result[0].timesteps))
                return result

            backbone.history_context = history_context
            return backbone

        return wrapped

    monkeypatch.setattr(recipe, "training_adapter", recording_adapter)
    train_baseline(tiny_config(tmp_path, codec_path, "noisy_history", sigma_train=0.5), show_progress=False)
    training = [levels for is_training, levels in seen if is_training]
    assert len(training) == 2 and all(levels is not None and float(levels.max()) <= 0.5 for levels in training)


def test_training_and_sampling_views_of_each_backbone(tmp_path, codec_path):
    model = torch.nn.Linear(1, 1)  # stands in for the packed DiT; only its train/eval mode matters

    def view(baseline, training, **overrides):
        model.train(training)
        backbone = training_adapter(tiny_config(tmp_path, codec_path, baseline, **overrides))(model)
        assert isinstance(backbone, BaselineBackbone)
        return backbone

    assert view("causal_attention", True).attention == "block_causal"
    assert view("anchor_frames", True).history_level is None and view("anchor_frames", True).attention is None
    random_sigma = view("noisy_history", True, sigma_train=None)
    assert random_sigma.history_level == ScaledHistoryLevel(None) and random_sigma.noise_generator is not None
    assert view("noisy_history", False, sigma_train=None).history_level == ScaledHistoryLevel(0.0)
    assert view("noisy_history", False, sigma_train=0.1).history_level == ScaledHistoryLevel(0.1)
    assert view("history_guidance", True).history_level == FixedHistoryLevel(None, 0.2)
    assert view("history_guidance", False).history_level == FixedHistoryLevel(0.0)


def test_repeated_i2v_examples_condition_on_their_only_context_frame():
    pool = LatentClipPool(torch.randn(3, 4, 20, 2, 2).half(), list("abc"), [0, 1, 2])
    rng = random.Random(0)
    for _ in range(5):
        _, batch = random_batch(pool, [PlanChoice("td_f1k1_g3", "vanilla", has_start=True)], 1, 2, rng)
        (group,) = batch.context
        assert torch.equal(group.latents[:, :, 0], batch.start_latent)


def test_bad_baseline_configs_are_named(tmp_path, codec_path):
    with pytest.raises(ValueError, match="baseline must be one of"):
        tiny_config(tmp_path, codec_path, "sliding_window")
    with pytest.raises(ValueError, match="max_sections: 1"):
        tiny_config(tmp_path, codec_path, "repeated_i2v", max_sections=3)
    with pytest.raises(ValueError, match="sigma_train"):
        tiny_config(tmp_path, codec_path, "noisy_history", sigma_train=1.5)
    with pytest.raises(ValueError, match="do not set schedule"):
        tiny_config(tmp_path, codec_path, "causal_attention", schedule="td_f16k4f4k2f1k1_g9")


@pytest.mark.parametrize("name", ["repeated_i2v", "anchor_frames", "causal_attention", "noisy_history_random",
                                  "noisy_history_0.1", "history_guidance"])
def test_shipped_baseline_configs_load(name):
    train, config = load_recipe(f"bench/train/configs/baseline_{name}.yaml", [])
    assert train is train_baseline and config.baseline in BASELINES
    assert config.out == f"results/checkpoints/bl_{name}.safetensors"
    if name.startswith("noisy_history"):
        assert config.sigma_train == (0.1 if name.endswith("0.1") else None)
