"""`fpbench train CONFIG` dispatches every shipped recipe YAML to its training function, and each
resolves to the config its committed checkpoint was trained with."""

import dataclasses
import json
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


# Training options removed with the designs they served, and the value every committed run logged.
REMOVED_OPTIONS = {"flow_weight": 0.0, "motion_weight": 0.0, "warp_weight": 0.0, "warp_blur_px": 3.0,
                   "true_flow_warp": False, "text_lr_scale": 1.0}
# Where files went, not how a model was trained: runs were promoted into results/checkpoints/.
LOCATIONS = ("out", "run_dir", "init_from")


def format_2_model_keys(model: dict | None) -> dict | None:
    """`PackedDiTConfig` keys as a format-1 run logged them, in today's names."""
    if model is None:
        return None
    model = {k: v for k, v in model.items() if k not in ("prediction", "warp_flow", "warp_resample")}
    if "anchor_warp" in model:
        model["motion_prior"] = model.pop("anchor_warp")
    return model


def logged_config(log: Path) -> dict:
    """The config the last run that wrote `log` started with (its `... config {json}` line)."""
    lines = [line for line in log.read_text().splitlines() if " config {" in line]
    return json.loads(lines[-1].split(" config ", 1)[1].rsplit("}", 1)[0] + "}")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_each_committed_config_resolves_to_the_config_its_checkpoint_was_trained_with(path):
    _, config = load_recipe(str(path), [])
    log = Path(config.out).with_suffix(".log")
    if not log.is_file():
        pytest.skip(f"{log} not committed: nothing to compare with")
    resolved = json.loads(json.dumps(dataclasses.asdict(config)))
    logged = logged_config(log)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for name in set(resolved) | set(logged):
        if name in LOCATIONS:
            continue
        if name not in resolved:
            assert logged[name] == REMOVED_OPTIONS[name], (name, logged[name])
        elif name not in logged:
            assert resolved[name] == defaults[name], (name, resolved[name])  # an option added since, at its default
        elif name in ("model", "model_overrides"):
            assert resolved[name] == format_2_model_keys(logged[name]), name
        else:
            assert resolved[name] == logged[name], name


def test_an_included_file_gives_defaults_that_the_including_file_overrides(tmp_path):
    from bench.train.common import ConfigError, read_yaml

    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "defaults.yaml").write_text("lr: 0.1\nseed: 3\n")
    (tmp_path / "recipe.yaml").write_text("include: shared/defaults.yaml\nlr: 0.5\n")
    assert read_yaml(tmp_path / "recipe.yaml") == {"lr": 0.5, "seed": 3}
    (tmp_path / "loop.yaml").write_text("include: loop.yaml\n")
    with pytest.raises(ConfigError, match="includes itself"):
        read_yaml(tmp_path / "loop.yaml")
    (tmp_path / "missing.yaml").write_text("include: nowhere.yaml\n")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml.*included by"):
        read_yaml(tmp_path / "missing.yaml")


def test_perceptor_yaml_resolves_to_the_config_in_the_committed_perceptor_report():
    _, config = load_recipe("bench/train/configs/perceptor.yaml", [])
    report = Path(config.out).with_name(Path(config.out).stem + "_report.json")
    if not report.is_file():
        pytest.skip(f"{report} not committed: nothing to compare with")
    assert dataclasses.asdict(config) == json.loads(report.read_text())["config"]
