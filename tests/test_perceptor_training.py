"""The perceptor recipe on the shared Trainer: its outputs, bit-exact resume after a kill or an early
stop, and the refusal to resume under a config that changes what a step computes."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from bench.train.perceptor import RESUMABLE_CHANGES, PerceptorTrainConfig, train_perceptor
from bench.train.trainer import Trainer

TIMING = ("train_minutes", "train_cpu_minutes")


class Killed(Exception):
    """Stands for the process being killed."""


def tiny_config(root, name: str, **changes) -> PerceptorTrainConfig:
    # checkpoint_every=2: a run killed after step 3 resumes from the state of step 2.
    settings = dict(out=str(root / name / "perceptor.safetensors"), work_dir=str(root / name / "work"), steps=4,
                    batch_size=6, warmup_steps=2, checkpoint_every=2, eval_frames=150, eval_clips=2)
    return PerceptorTrainConfig(**{**settings, **changes})


def killed_after(step: int, patch) -> None:
    """Make the next run raise `Killed` right after its optimiser step `step` (no state written then)."""
    end_step = Trainer.end_step

    def end_step_then_die(self, loss, **fields):
        row = end_step(self, loss, **fields)
        if self.step == step:
            raise Killed
        return row

    patch.setattr(Trainer, "end_step", end_step_then_die)


def outputs(config: PerceptorTrainConfig) -> tuple[dict, dict, pd.DataFrame]:
    """(weights, report without its timing fields, loss table) of a finished run."""
    out = config.out.removesuffix(".safetensors")
    report = json.loads(open(out + "_report.json").read())
    return load_file(config.out), {k: v for k, v in report.items() if k not in TIMING}, pd.read_parquet(out + "_loss.parquet")


def resumed_line(config: PerceptorTrainConfig) -> str:
    """The run log's last line about a resume ('' when the run never resumed)."""
    lines = open(config.out.removesuffix(".safetensors") + ".log").read().splitlines()
    return ([line for line in lines if "resumed from" in line] or [""])[-1]


def assert_same_run(a: PerceptorTrainConfig, b: PerceptorTrainConfig) -> None:
    weights_a, report_a, losses_a = outputs(a)
    weights_b, report_b, losses_b = outputs(b)
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name
    for report in (report_a, report_b):  # where files went and budgets may differ
        report["config"] = {k: v for k, v in report["config"].items() if k not in RESUMABLE_CHANGES}
    assert report_a == report_b
    assert list(losses_a["step"]) == list(losses_b["step"]) and losses_a["loss"].equals(losses_b["loss"])


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> PerceptorTrainConfig:
    config = tiny_config(tmp_path_factory.mktemp("perceptor"), "straight")
    train_perceptor(config, show_progress=False)
    return config


def test_training_writes_checkpoint_loss_table_and_report(straight):
    _, report, losses = outputs(straight)
    for key in ("presence_accuracy", "position_error_px_mean", "shape_accuracy", "colour_accuracy",
                "identity_verification_auc_mild", "structure_auc", "degradation_spearman"):
        assert np.isfinite(report[key]), key
    assert report["steps"] == 4 and report["config"]["steps"] == 4
    assert list(losses["step"]) == [1, 2, 3, 4] and np.isfinite(losses["loss"]).all()
    assert {"lr", "cpu_s", "loss_presence", "loss_identity"} <= set(losses.columns)


def test_a_killed_perceptor_run_resumes_to_the_weights_and_report_of_an_uninterrupted_one(straight, tmp_path, monkeypatch):
    resumed = tiny_config(tmp_path, "resumed")
    with monkeypatch.context() as patch:
        killed_after(3, patch)
        with pytest.raises(Killed):
            train_perceptor(resumed, show_progress=False)
    train_perceptor(resumed, show_progress=False)
    assert "at step 2" in resumed_line(resumed)  # the state of checkpoint_every=2; step 3 is redone
    assert_same_run(straight, resumed)


def test_a_run_stopped_at_a_step_continues_to_the_weights_of_an_uninterrupted_one(straight, tmp_path):
    train_perceptor(tiny_config(tmp_path, "stopped", stop_at_step=2), show_progress=False)
    assert list(outputs(tiny_config(tmp_path, "stopped"))[2]["step"]) == [1, 2]
    continued = tiny_config(tmp_path, "stopped", max_minutes=30.0)  # a budget change is allowed
    train_perceptor(continued, show_progress=False)
    assert_same_run(straight, continued)


def test_a_perceptor_run_refuses_to_resume_under_a_config_that_changes_its_steps(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        killed_after(2, patch)
        with pytest.raises(Killed):
            train_perceptor(tiny_config(tmp_path, "run"), show_progress=False)  # last.pt at step 2
    with pytest.raises(ValueError, match=r"another config \(lr: 0\.003 -> 0\.001\).*delete .*work"):
        train_perceptor(tiny_config(tmp_path, "run", lr=1e-3), show_progress=False)
    with monkeypatch.context() as patch:  # keys that do not change a step's weights may change
        killed_after(3, patch)
        with pytest.raises(Killed):
            train_perceptor(tiny_config(tmp_path, "run", max_minutes=30.0, eval_frames=10), show_progress=False)
    assert "at step 2" in resumed_line(tiny_config(tmp_path, "run"))
