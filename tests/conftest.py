"""Fixtures several test modules share."""

import numpy as np
import pytest
import torch

from bench.world import sample_clip
from framepack.lab.codec import LabCodec, LabCodecConfig

WORLD_CODEC_CHANNELS = 12


@pytest.fixture(scope="session")
def world_linear_codec() -> LabCodec:
    """A patch-PCA codec (12 channels, 8-px patches) fitted on a few world clips: real sprites and
    backgrounds, so warps and motion have something to move."""
    frames = np.concatenate([sample_clip(seed, 3).frames for seed in range(6)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=WORLD_CODEC_CHANNELS, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    return codec


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (the CI box has 2 shared cores; the thread pool thrashes under
    contention), the previous count afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
