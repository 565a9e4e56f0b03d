"""The flow probe: a warped model whose flow head is silent scores exactly "no flow"."""


import numpy as np
import pytest
import torch
from test_model import make_model

from bench.benchmarks.flow_probe import probe
from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice
from bench.world import sample_clip
from framepack.lab.codec import LabCodec, LabCodecConfig


def test_a_silent_flow_head_scores_one_on_flow_error_and_warp_ratio():
    frames = np.concatenate([sample_clip(seed, 3).frames for seed in range(6)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=12, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    pool = LatentClipPool.build(codec, "heldout", 4, 30, 0, cache_dir=None, show_progress=False)
    model = make_model(0, latent_channels=12, prediction="anchored", anchor_warp=True, warp_flow="velocity")
    model.pixel_view.copy_from_codec(codec)
    choices = [PlanChoice("td_f2k2f1k1_g9", "vanilla", has_start=True)]
    with torch.no_grad():
        model.flow_proj.weight.zero_()
        model.flow_proj.bias.zero_()
    silent = probe(model, pool, choices, 2, batches=2, t=0.5)
    assert silent["flow_error"] == pytest.approx(1.0) and silent["warp_ratio"] == pytest.approx(1.0)
    with torch.no_grad():
        model.flow_proj.bias.view(2, -1)[0] = 2.0  # every latent pixel drifts right: not the world's motion
    drifting = probe(model, pool, choices, 2, batches=2, t=0.5)
    assert drifting["flow_error"] > 1.0
