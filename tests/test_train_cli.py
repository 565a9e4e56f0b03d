"""`fpbench train CONFIG` dispatches every shipped recipe YAML to its training function."""

from pathlib import Path

import pytest

from bench.cli.train import load_recipe

CONFIGS = sorted(Path("bench/train/configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_training_config_resolves_to_a_recipe(path):
    train, config = load_recipe(str(path), [])
    assert callable(train)
    assert type(config).__name__.endswith("Config")


def test_perceptor_yaml_runs_the_perceptor_recipe():
    from bench.train.perceptor import PerceptorTrainConfig, train_perceptor

    train, config = load_recipe("bench/train/configs/perceptor.yaml", ["seed=7"])
    assert train is train_perceptor
    assert isinstance(config, PerceptorTrainConfig) and config.seed == 7


def test_unknown_recipe_is_rejected_with_the_known_ones(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: teleport\n")
    with pytest.raises(ValueError, match="perceptor"):
        load_recipe(str(bad), [])


def test_prior_stage_only_runs_the_prior_stage_and_only_for_fine_tunes(monkeypatch):
    import argparse

    import bench.train.prior_stage as prior_stage
    from bench.cli.train import run

    seen = []
    monkeypatch.setattr(prior_stage, "restage", lambda config, show_progress: seen.append(config) or {"prior_steps": 1})
    assert run(argparse.Namespace(config="bench/train/configs/fp_inverted.yaml", overrides=[], quiet=True,
                                  prior_stage_only=True)) == 0
    assert len(seen) == 1 and seen[0].prior_steps == 3000 and seen[0].out.endswith("fp_inverted.safetensors")
    with pytest.raises(SystemExit, match="finetune and baseline"):
        run(argparse.Namespace(config="bench/train/configs/base.yaml", overrides=[], quiet=True, prior_stage_only=True))
