"""Fixtures several test modules share."""

import json

import numpy as np
import pytest
import torch

from bench.world import sample_clip
from framepack.lab.codec import LabCodec, LabCodecConfig
from framepack.lab.model import PackedDiT, PackedDiTConfig

WORLD_CODEC_CHANNELS = 12


@pytest.fixture(scope="session")
def world_linear_codec() -> LabCodec:
    """A patch-PCA codec (12 channels, 8-px patches) fitted on a few world clips: real sprites and
    backgrounds, so warps and motion have something to move."""
    frames = np.concatenate([sample_clip(seed, 3).frames for seed in range(6)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=WORLD_CODEC_CHANNELS, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    return codec


@pytest.fixture(scope="module")
def lab_checkpoint(tmp_path_factory):
    """A tiny lab FramePack checkpoint (`fp_inverted.safetensors`) with its sidecar and codec."""
    folder = tmp_path_factory.mktemp("ckpt")
    frames = np.concatenate([sample_clip(seed, 2).frames for seed in range(3)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=4, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    codec.save(folder / "codec.safetensors")
    model = PackedDiT(PackedDiTConfig(latent_channels=4, dim=16, depth=1, heads=2, text_vocab=64, kernels=("k2",)))
    model.save(folder / "fp_inverted.safetensors", dtype=torch.float16)
    sidecar = {"schedule": "f1k1_x_g2_f1k1f2k2_td", "order": "inverted_anti_drifting",
               "codec": str(folder / "codec.safetensors"), "codebook": None}
    (folder / "fp_inverted.json").write_text(json.dumps(sidecar))
    return folder / "fp_inverted.safetensors"
