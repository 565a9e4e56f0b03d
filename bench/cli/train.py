"""`fpbench train CONFIG`: run a training recipe described by a YAML file.

The YAML's `recipe` key picks the recipe (codec, base, finetune, baseline, perceptor); every other key is a field of
that recipe's config dataclass. `--set key=value` overrides a key (the value is read as YAML).
Runs resume from their run folder when one exists.
"""

from __future__ import annotations

import argparse

RECIPES = ("codec", "base", "finetune", "baseline", "perceptor")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a lab model (codec, base video model, FramePack fine-tune) from a YAML config",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="YAML file, e.g. bench/train/configs/base.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable), e.g. --set max_minutes=5")
    parser.add_argument("--quiet", action="store_true", help="do not print the training log")
    parser.add_argument("--prior-stage-only", action="store_true",
                        help="(finetune / baseline recipes) only retrain the motion prior of the finished checkpoint `out`")
    parser.set_defaults(func=run)


def load_recipe(path: str, overrides: list[str]):
    """Read the YAML at `path`, apply `overrides`, and return (train function, config)."""
    import yaml

    from bench.train.common import ConfigError, config_from_dict, read_yaml

    raw = read_yaml(path)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        raw[key.strip()] = yaml.safe_load(value)
    recipe = raw.pop("recipe", None)
    if recipe not in RECIPES:
        raise ConfigError(f"{path}: `recipe` must be one of {', '.join(RECIPES)}, got {recipe!r}")
    if recipe == "codec":
        from bench.train.codec import CodecTrainConfig, train_codec

        return train_codec, config_from_dict(CodecTrainConfig, raw, path)
    if recipe == "base":
        from bench.train.base import BaseTrainConfig, train_base

        return train_base, config_from_dict(BaseTrainConfig, raw, path)
    if recipe == "perceptor":
        from bench.train.perceptor import PerceptorTrainConfig, train_perceptor

        return train_perceptor, config_from_dict(PerceptorTrainConfig, raw, path)
    if recipe == "baseline":
        from bench.train.baselines import BaselineTrainConfig, train_baseline

        return train_baseline, config_from_dict(BaselineTrainConfig, raw, path)
    from bench.train.finetune import FinetuneConfig, train_finetune

    return train_finetune, config_from_dict(FinetuneConfig, raw, path)


def run(args: argparse.Namespace) -> int:
    import json

    train, config = load_recipe(args.config, args.overrides)
    if args.prior_stage_only:
        from bench.train.finetune import FinetuneConfig
        from bench.train.prior_stage import restage

        if not isinstance(config, FinetuneConfig):
            raise SystemExit(f"{args.config}: --prior-stage-only is for the finetune and baseline recipes")
        train = restage
    report = train(config, show_progress=not args.quiet)
    print(json.dumps(report, indent=2, default=str))  # the perceptor recipe returns its checkpoint path
    return 0
