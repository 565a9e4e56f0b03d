"""The codec recipe on the shared Trainer: a killed run resumes to the weights of an uninterrupted one."""

import pytest
import torch
from safetensors.torch import load_file

from bench.train.codec import CodecTrainConfig, train_codec
from bench.train.trainer import Trainer


class Killed(Exception):
    """Stands for the process being killed."""


def tiny_codec_config(tmp_path, name: str) -> CodecTrainConfig:
    return CodecTrainConfig(out=str(tmp_path / name / "codec.safetensors"), run_dir=str(tmp_path / name / "run"),
                            kind="conv", latent_channels=8, widths=(8, 8, 8), train_clips=6, frames_per_clip=4,
                            heldout_clips=2, batch_size=4, max_steps=4, max_minutes=1e6, threads=1)


def test_a_killed_codec_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    straight = tiny_codec_config(tmp_path, "straight")
    train_codec(straight, show_progress=False)
    end_step = Trainer.end_step

    def killed_after_two_steps(self, loss, **fields):
        row = end_step(self, loss, **fields)
        if self.step == 2:
            self.save_state()  # as a periodic checkpoint would have
            raise Killed
        return row

    resumed = tiny_codec_config(tmp_path, "resumed")
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "end_step", killed_after_two_steps)
        with pytest.raises(Killed):
            train_codec(resumed, show_progress=False)
    report = train_codec(resumed, show_progress=False)
    assert report["steps"] == 4
    a, b = load_file(straight.out), load_file(resumed.out)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_codec_run_folder_defaults_to_its_output_name():
    assert CodecTrainConfig(out="results/checkpoints/codec_pca.safetensors").run_dir == "runs/codec_pca"
