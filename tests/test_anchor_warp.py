import pytest
import torch
from conftest import WORLD_CODEC_CHANNELS
from test_model import make_model

from bench.train.common import new_lab_model
from bench.world import sample_clip
from framepack.attention import KVCache
from framepack.kernels import K1, Kernel
from framepack.lab.anchor_warp import PixelView
from framepack.lab.codec import LabCodec, LabCodecConfig
from framepack.lab.model import PackedDiT
from framepack.lab.text_encoder import LabTextEncoder
from framepack.packed_group import PackedGroup

CHANNELS = WORLD_CODEC_CHANNELS


@pytest.fixture(scope="module")
def codec(world_linear_codec) -> LabCodec:
    return world_linear_codec


def pixel_view(codec: LabCodec) -> PixelView:
    view = PixelView(CHANNELS, 8)
    view.copy_from_codec(codec)
    return view


def edge_latents(codec: LabCodec, column: int) -> torch.Tensor:
    """A frame whose left part (x < column) is bright, as normalised latents (1, C, 1, 8, 8)."""
    frame = torch.full((1, 3, 1, 64, 64), -0.6)
    frame[..., :column] = 0.6
    return codec.encode(frame)


def bright_columns(view: PixelView, latents: torch.Tensor) -> float:
    """How far the bright part reaches, in pixels (mean brightness along x, summed)."""
    pixels = view.to_pixels(latents[:, :, 0])  # (1, 3, 64, 64)
    profile = pixels.mean(dim=(0, 1, 2))  # along x
    return float(((profile + 0.6) / 1.2).clamp(0, 1).sum())


@torch.no_grad()
def test_zero_flow_leaves_latents_exactly_unchanged(codec):
    view = pixel_view(codec)
    latents = codec.encode_uint8(sample_clip(11, 4).frames)
    flow = torch.zeros(1, 2, 4, 8, 8)
    assert torch.equal(view.warp(latents, flow), latents)


@torch.no_grad()
def test_a_flow_moves_the_content_by_that_many_pixels_in_its_direction(codec):
    view = pixel_view(codec)
    latents = edge_latents(codec, 28)
    before = bright_columns(view, latents)
    right = torch.zeros(1, 2, 1, 8, 8)
    right[:, 0] = 3.0
    left = -right
    assert bright_columns(view, view.warp(latents, right)) - before == pytest.approx(3.0, abs=0.5)
    assert bright_columns(view, view.warp(latents, left)) - before == pytest.approx(-3.0, abs=0.5)
    # a vertical flow does not move a vertical edge sideways
    down = torch.zeros(1, 2, 1, 8, 8)
    down[:, 1] = 3.0
    assert bright_columns(view, view.warp(latents, down)) == pytest.approx(before, abs=0.1)


def test_pixel_view_rejects_a_codec_it_cannot_represent(codec):
    with pytest.raises(ValueError, match="latent channels"):
        PixelView(CHANNELS + 1, 8).copy_from_codec(codec)
    conv = LabCodec(LabCodecConfig(kind="conv", latent_channels=CHANNELS, downsample=8, widths=(8, 8, 8)))
    with pytest.raises(ValueError, match="linear codec"):
        PixelView(CHANNELS, 8).copy_from_codec(conv)


def warp_model(codec: LabCodec, seed: int = 0) -> PackedDiT:
    """A small model with a motion prior and the codec's basis (see test_model.make_model)."""
    model = make_model(seed, latent_channels=CHANNELS, motion_prior=True)
    model.pixel_view.copy_from_codec(codec)
    return model


def section(codec: LabCodec, batch: int = 2, frames: int = 3):
    generator = torch.Generator().manual_seed(0)
    clip = codec.encode_uint8(sample_clip(3, 8).frames).expand(batch, -1, -1, -1, -1)
    context = [
        PackedGroup(clip[:, :, :4], torch.arange(0, 4), Kernel.from_level(2)),
        PackedGroup(clip[:, :, 4:5], torch.arange(4, 5), K1),
    ]
    noisy = torch.randn(batch, CHANNELS, frames, 8, 8, generator=generator)
    timesteps = torch.rand(batch, frames, generator=generator)
    cond = LabTextEncoder(97, 32).condition(["a red circle drifts right"] * batch)
    return noisy, torch.arange(5, 5 + frames), timesteps, context, cond


def test_warped_model_keeps_its_basis_through_save_and_load_and_caches_like_recomputation(codec, tmp_path):
    model = warp_model(codec)
    fresh = new_lab_model(dict(dim=32, depth=2, heads=2, text_vocab=97, motion_prior=True), codec, 0)
    torch.testing.assert_close(fresh.pixel_view.components, codec.encoder.weight)  # the recipes copy the basis in
    loaded = PackedDiT.load(model.save(tmp_path / "warp.safetensors"))
    torch.testing.assert_close(loaded.pixel_view.components, codec.encoder.weight)
    noisy, indices, timesteps, context, cond = section(codec)
    full = loaded(noisy, indices, timesteps, context, cond, attention="causal")
    cached = loaded(noisy, indices, timesteps, context, cond, attention="causal", kv_cache=KVCache())
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)
