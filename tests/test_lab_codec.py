import numpy as np
import pytest
import torch

from bench.train.codec import psnr
from bench.world import sample_clip
from framepack.lab.codec import LabCodec, LabCodecConfig


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.concatenate([sample_clip(seed, 2).frames for seed in range(4)])


def _unit(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


def test_linear_codec_with_every_component_is_lossless(frames):
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=3 * 4 * 4, downsample=4))
    codec.fit_linear(_unit(frames))
    video = frames[:5]
    assert psnr(codec.decode_uint8(codec.encode_uint8(video)), video) > 45


def test_linear_codec_keeps_more_detail_with_more_components(frames):
    scores = []
    for channels in (4, 16, 32):
        codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=channels, downsample=8))
        codec.fit_linear(_unit(frames))
        scores.append(psnr(codec.decode_uint8(codec.encode_uint8(frames)), frames))
    assert scores[0] < scores[1] < scores[2]


def test_encode_gives_unit_variance_latents_of_the_documented_shape(frames):
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=24, downsample=8))
    codec.fit_linear(_unit(frames))
    latents = codec.encode(_unit(frames).permute(1, 0, 2, 3).unsqueeze(0))
    assert latents.shape == (1, 24, len(frames), 8, 8)
    assert abs(float(latents.detach().pow(2).mean()) - 1.0) < 0.05
    assert codec.decode(latents).shape == (1, 3, len(frames), 64, 64)


def test_save_and_load_round_trip_both_kinds(tmp_path, frames):
    for config in (LabCodecConfig(kind="linear", latent_channels=8), LabCodecConfig(kind="conv", latent_channels=4, downsample=4, widths=(16, 16))):
        codec = LabCodec(config)
        if config.kind == "linear":
            codec.fit_linear(_unit(frames))
        codec.save(tmp_path / f"{config.kind}.safetensors")
        loaded = LabCodec.load(tmp_path / f"{config.kind}.safetensors")
        assert loaded.config == config
        x = _unit(frames[:2]).permute(1, 0, 2, 3).unsqueeze(0)
        torch.testing.assert_close(loaded.encode(x), codec.encode(x))


def test_bad_inputs_are_named(tmp_path):
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=8))
    with pytest.raises(ValueError, match="encode expects frames"):
        codec.encode(torch.zeros(1, 3, 2, 32, 32))
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        LabCodec.load(tmp_path / "nothing.safetensors")
    with pytest.raises(ValueError, match="widths"):
        LabCodecConfig(kind="conv", downsample=8, widths=(8,))


def test_refiner_starts_as_the_identity_and_leaves_the_latent_space_alone(tmp_path, frames):
    plain = LabCodec(LabCodecConfig(kind="linear", latent_channels=8))
    plain.fit_linear(_unit(frames))
    refined = LabCodec(LabCodecConfig(kind="linear", latent_channels=8, refiner_width=8, refiner_blocks=1))
    refined.load_state_dict({**refined.state_dict(), **plain.state_dict()})
    x = _unit(frames[:3]).permute(1, 0, 2, 3).unsqueeze(0)
    torch.testing.assert_close(refined.encode(x), plain.encode(x))
    torch.testing.assert_close(refined.decode(plain.encode(x)), plain.decode(plain.encode(x)))
    refined.save(tmp_path / "r.safetensors")
    assert LabCodec.load(tmp_path / "r.safetensors").config.refiner_width == 8
