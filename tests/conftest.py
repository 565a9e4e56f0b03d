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


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (the CI box has 2 shared cores; the thread pool thrashes under
    contention), the previous count afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


TINY_CLIP = {
    "embed_dim": 768, "quick_gelu": True,
    "vision_cfg": {"image_size": 224, "layers": 1, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_clip(tmp_path):
    """A randomly initialised open_clip model (ViT-L-14's embed width 768, tiny towers) saved as the CLIP
    file where the resolver expects it (tests point TORCH_HOME / HF_HOME at temporary folders first)."""
    import json

    import open_clip

    from metrics.weights import WeightsResolver

    config = tmp_path / "fpbench-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    path = WeightsResolver().expected_path("clip_vit_l14")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(open_clip.create_model("fpbench-tiny-clip").state_dict(), path)
    return "fpbench-tiny-clip"


@pytest.fixture
def isolated_weight_roots(tmp_path, monkeypatch):
    """Point every weights root at an empty temporary folder, so a stray cache cannot hide a missing file;
    one thread and a fixed seed while the test runs."""
    for variable, folder in [("TORCH_HOME", "torch"), ("HF_HOME", "hf"), ("INSIGHTFACE_ROOT", "insightface")]:
        monkeypatch.setenv(variable, str(tmp_path / folder))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield tmp_path
    torch.set_num_threads(threads)


@pytest.fixture
def dlib_identity_and_face():
    """The dlib identity metric on its real CC0 weights and a real face (skimage's astronaut);
    skipped, with the reason, where dlib or its weights are not installed."""
    pytest.importorskip("dlib")
    data = pytest.importorskip("skimage.data")
    from metrics import get_metric

    metric = get_metric("identity_dlib", "paper")
    available, reason = metric.available()
    if not available:
        pytest.skip(reason)
    return metric, data.astronaut()[:300, 100:340]
