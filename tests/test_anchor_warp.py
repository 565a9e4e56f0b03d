import pytest
import torch
from conftest import WORLD_CODEC_CHANNELS
from test_model import make_model

from bench.train.common import new_lab_model
from bench.world import sample_clip
from framepack.attention import KVCache
from framepack.kernels import K1, Kernel
from framepack.lab.anchor_warp import FLOW_SCALE_PX, VELOCITY_SCALE_PX, PixelView
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
    """A small anchored model with a warped anchor and the codec's basis (see test_model.make_model)."""
    model = make_model(seed, latent_channels=CHANNELS, prediction="anchored", anchor_warp=True)
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


@torch.no_grad()
def test_warped_model_with_a_silent_flow_head_is_the_plain_anchored_model(codec):
    model = warp_model(codec)
    noisy, indices, timesteps, context, cond = section(codec)
    plain = PackedDiT(type(model.config).from_dict({**model.config.to_dict(), "anchor_warp": False})).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith(("flow_proj", "pixel_view"))})
    warped = model(noisy, indices, timesteps, context, cond)
    assert (warped - plain(noisy, indices, timesteps, context, cond)).abs().max() > 1e-3  # the flow acts
    model.flow_proj.weight.zero_()
    model.flow_proj.bias.zero_()
    torch.testing.assert_close(model(noisy, indices, timesteps, context, cond), plain(noisy, indices, timesteps, context, cond))


@torch.no_grad()
def test_one_step_estimate_is_the_anchor_moved_by_the_flow_head(codec):
    model = warp_model(codec)
    noisy, indices, _, context, cond = section(codec)
    model.final_proj.weight.zero_()
    model.final_proj.bias.zero_()  # no correction: x0_hat is the warped anchor alone
    model.flow_proj.weight.zero_()
    model.flow_proj.bias.zero_()
    model.flow_proj.bias.view(2, -1)[0] = 2.0 / FLOW_SCALE_PX  # every latent pixel: 2 px to the right
    ones = torch.ones(noisy.shape[0], noisy.shape[2])
    x0_hat = noisy - model(noisy, indices, ones, context, cond)  # t = 1: x0 = x_t − v
    anchor = context[-1].latents.expand(-1, -1, noisy.shape[2], -1, -1)
    flow = torch.zeros(noisy.shape[0], 2, noisy.shape[2], 8, 8)
    flow[:, 0] = 2.0
    torch.testing.assert_close(x0_hat, model.pixel_view.warp(anchor, flow), atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_velocity_flow_moves_each_frame_by_its_distance_from_the_anchor(codec):
    model = make_model(0, latent_channels=CHANNELS, prediction="anchored", anchor_warp=True, warp_flow="velocity")
    model.pixel_view.copy_from_codec(codec)
    noisy, indices, _, context, cond = section(codec)  # anchor: frame 4; noisy frames 5, 6, 7
    for layer in (model.final_proj, model.flow_proj):
        layer.weight.zero_()
        layer.bias.zero_()
    model.flow_proj.bias.view(2, -1)[0] = 0.5 / VELOCITY_SCALE_PX  # 0.5 px per frame to the right
    ones = torch.ones(noisy.shape[0], noisy.shape[2])
    x0_hat = noisy - model(noisy, indices, ones, context, cond)
    anchor = context[-1].latents
    for k, pixels in enumerate((0.5, 1.0, 1.5)):
        flow = torch.zeros(noisy.shape[0], 2, 1, 8, 8)
        flow[:, 0] = pixels
        torch.testing.assert_close(x0_hat[:, :, k:k + 1], model.pixel_view.warp(anchor, flow), atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_velocity_flow_keeps_a_causal_model_causal(codec):
    model = make_model(0, latent_channels=CHANNELS, prediction="anchored", anchor_warp=True, warp_flow="velocity")
    model.pixel_view.copy_from_codec(codec)
    noisy, indices, timesteps, context, cond = section(codec)
    changed = noisy.clone()
    changed[:, :, -1] += 1.0
    before = model(noisy, indices, timesteps, context, cond, attention="causal")
    after = model(changed, indices, timesteps, context, cond, attention="causal")
    torch.testing.assert_close(after[:, :, :-1], before[:, :, :-1])
    assert (after[:, :, -1] - before[:, :, -1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="warp_flow"):
        type(model.config)(latent_channels=4, prediction="anchored", anchor_warp=True, warp_flow="curl")


def test_warped_model_keeps_its_basis_through_save_and_load_and_caches_like_recomputation(codec, tmp_path):
    model = warp_model(codec)
    fresh = new_lab_model(dict(dim=32, depth=2, heads=2, text_vocab=97, prediction="anchored", anchor_warp=True), codec, 0)
    torch.testing.assert_close(fresh.pixel_view.components, codec.encoder.weight)  # the recipes copy the basis in
    loaded = PackedDiT.load(model.save(tmp_path / "warp.safetensors"))
    torch.testing.assert_close(loaded.pixel_view.components, codec.encoder.weight)
    noisy, indices, timesteps, context, cond = section(codec)
    full = loaded(noisy, indices, timesteps, context, cond, attention="causal")
    cached = loaded(noisy, indices, timesteps, context, cond, attention="causal", kv_cache=KVCache())
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_anchor_warp_needs_an_anchored_model():
    from framepack.lab.model import PackedDiTConfig

    with pytest.raises(ValueError, match="anchor_warp needs prediction='anchored'"):
        PackedDiTConfig(latent_channels=4, prediction="preconditioned", anchor_warp=True)
    with pytest.raises(ValueError, match="warp_patch"):
        PackedDiTConfig(latent_channels=4, prediction="anchored", anchor_warp=True, warp_patch=0)


@torch.no_grad()
def test_warp_matching_loss_is_one_for_an_unmoved_anchor_and_small_when_the_flow_follows_the_motion(codec):
    from bench.train.objective import warp_matching_loss
    from framepack.lab.model import Anchors

    view = pixel_view(codec)
    anchor, target = edge_latents(codec, 28), edge_latents(codec, 31)  # the edge moved 3 px right
    flow = torch.zeros(1, 2, 1, 8, 8)
    flow[:, 0] = 3.0
    assert warp_matching_loss(view, Anchors(anchor, anchor), target, 3.0).item() == pytest.approx(1.0)
    assert warp_matching_loss(view, Anchors(anchor, view.warp(anchor, flow)), target, 3.0).item() < 0.1
    assert warp_matching_loss(view, Anchors(anchor, view.warp(anchor, -flow)), target, 3.0).item() > 2.0


def test_warp_weight_gives_the_flow_head_its_own_gradient(codec):
    from bench.train.examples import TrainingBatch
    from bench.train.objective import flow_matching_loss_at

    model = warp_model(codec).train()
    noisy, indices, _, context, cond = section(codec)
    batch = TrainingBatch(target=noisy.clone(), noisy_indices=indices, context=context, prompts=["x"] * 2,
                          start_latent=None, last_context=context[-1].latents, plan=None)
    t, noise = torch.full((2,), 0.7), torch.randn(noisy.shape, generator=torch.Generator().manual_seed(1))

    def flow_gradient(warp_weight: float) -> torch.Tensor:
        model.zero_grad()
        flow_matching_loss_at(model, batch, cond, t, noise, "preconditioned", warp_weight=warp_weight).backward()
        return model.flow_proj.weight.grad.clone()

    plain, weighted = flow_gradient(0.0), flow_gradient(1.0)
    assert (weighted - plain).abs().max() > 1e-4
    with pytest.raises(ValueError, match="anchor_warp"):
        flow_matching_loss_at(make_model(0, prediction="anchored"), batch, cond, t, noise, "preconditioned", warp_weight=1.0)
    with pytest.raises(ValueError, match="return_anchors"):
        make_model(0)(noisy, indices, torch.rand(2, 3), context, cond, return_anchors=True)


@torch.no_grad()
def test_rigid_flow_moves_members_with_the_subject_and_the_rest_with_the_background(codec):
    model = make_model(0, latent_channels=CHANNELS, prediction="anchored", anchor_warp=True, warp_flow="rigid")
    model.pixel_view.copy_from_codec(codec)
    raw = torch.zeros(1, 5, 3, 8, 8)
    raw[:, 0] = -20.0
    raw[:, 0, :, :4] = 20.0  # the top half belongs to the subject
    raw[:, 1] = 0.5 / VELOCITY_SCALE_PX  # subject: 0.5 px per frame to the right
    raw[:, 4] = -0.25 / VELOCITY_SCALE_PX  # background: 0.25 px per frame up
    flow = model._anchor_flow(raw, torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(flow[0, :, :, 0, 0], torch.tensor([[0.5, 1.0, 1.5], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(flow[0, :, :, 7, 7], torch.tensor([[0.0, 0.0, 0.0], [-0.25, -0.5, -0.75]]))
    # a later frame's velocity does not reach an earlier frame's flow (the running mean is causal)
    later = raw.clone()
    later[:, 1, 2] = 5.0
    torch.testing.assert_close(model._anchor_flow(later, torch.tensor([[1.0, 2.0, 3.0]]))[:, :, :2], flow[:, :, :2])
    noisy, indices, timesteps, context, cond = section(codec)
    assert model(noisy, indices, timesteps, context, cond).shape == noisy.shape


@torch.no_grad()
def test_a_given_anchor_flow_moves_the_anchor_and_the_predicted_flow_is_still_reported(codec):
    model = warp_model(codec)
    noisy, indices, _, context, cond = section(codec)
    model.final_proj.weight.zero_()
    model.final_proj.bias.zero_()  # no correction: x0_hat is the moved anchor
    given = torch.zeros(noisy.shape[0], 2, noisy.shape[2], 8, 8)
    given[:, 1] = -2.0  # 2 px up, whatever the head says
    ones = torch.ones(noisy.shape[0], noisy.shape[2])
    velocity, anchors = model(noisy, indices, ones, context, cond, return_anchors=True, anchor_flow=given)
    anchor = context[-1].latents.expand(-1, -1, noisy.shape[2], -1, -1)
    torch.testing.assert_close(noisy - velocity, model.pixel_view.warp(anchor, given), atol=1e-5, rtol=1e-4)
    _, own = model(noisy, indices, ones, context, cond, return_anchors=True)
    torch.testing.assert_close(anchors.flow, own.flow)
    assert (anchors.flow - given).abs().max() > 1e-3
    with pytest.raises(ValueError, match="anchor_flow needs"):
        make_model(0, latent_channels=CHANNELS, prediction="anchored")(noisy, indices, ones, context, cond, anchor_flow=given)


@torch.no_grad()
def test_bicubic_warp_moves_as_far_as_bilinear_and_keeps_the_edge_sharper(codec):
    view = pixel_view(codec)
    latents = edge_latents(codec, 28)
    half = torch.zeros(1, 2, 1, 8, 8)
    half[:, 0] = 2.5  # a fractional shift: bilinear reads average two pixels there
    before = bright_columns(view, latents)

    def steepest(moved: torch.Tensor) -> float:
        profile = view.to_pixels(moved[:, :, 0]).mean(dim=(0, 1, 2))
        return float(profile.diff().abs().max())

    bilinear, bicubic = view.warp(latents, half), view.warp(latents, half, "bicubic")
    assert bright_columns(view, bicubic) - before == pytest.approx(2.5, abs=0.5)
    assert steepest(bicubic) > 1.03 * steepest(bilinear)  # 0.58 against 0.55 on this codec
    with pytest.raises(ValueError, match="resample"):
        view.warp(latents, half, "nearest")
    with pytest.raises(ValueError, match="warp_resample"):
        type(warp_model(codec).config)(latent_channels=4, prediction="anchored", anchor_warp=True, warp_resample="area")


def refined_codec(codec: LabCodec, width: int = 8) -> LabCodec:
    """`codec` with a refiner whose correction is not zero (a seeded random last layer)."""
    refined = LabCodec(LabCodecConfig(kind="linear", latent_channels=CHANNELS, downsample=8, refiner_width=width,
                                      refiner_blocks=1))
    refined.load_state_dict(codec.state_dict(), strict=False)
    with torch.no_grad():
        last = refined.refiner[-2]
        last.weight.copy_(torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(0)) * 0.05)
    return refined


@torch.no_grad()
def test_a_refined_view_moves_the_codecs_refined_decode_and_is_still_exact_at_zero_flow(codec):
    refined = refined_codec(codec)
    view = PixelView(CHANNELS, 8, refiner_width=8, refiner_blocks=1)
    view.copy_from_codec(refined)
    latents = codec.encode_uint8(sample_clip(11, 2).frames)  # (1, C, 2, 8, 8)
    assert torch.equal(view.warp(latents, torch.zeros(1, 2, 2, 8, 8), "bicubic"), latents)
    # a whole-patch shift: the refined frame moves 8 px right (the left border repeats), re-encoded
    frames = latents[0].permute(1, 0, 2, 3)
    decoded = refined.decode_frames_raw(frames * refined.latent_scale.view(1, -1, 1, 1)
                                        + refined.latent_shift.view(1, -1, 1, 1))
    # float32 sums in another order (the view's basis vs the codec's layers): 1e-5 apart
    torch.testing.assert_close(view.decode(frames), decoded, atol=1e-4, rtol=1e-4)
    repeated = frames[[0, 1, 0, 0]]  # repeated frames are refined once, and each gets its own
    torch.testing.assert_close(view.decode(repeated), decoded[[0, 1, 0, 0]], atol=1e-4, rtol=1e-4)
    assert (decoded - view.to_pixels(frames)).abs().max() > 1e-2  # the refiner's correction is there to see
    moved = torch.cat([decoded[..., :1].expand(-1, -1, -1, 8), decoded[..., :-8]], dim=-1)
    expected = frames + view.difference_to_latents(moved - decoded)
    flow = torch.zeros(1, 2, 2, 8, 8)
    flow[:, 0] = 8.0
    warped = view.warp(latents, flow, "bicubic")[0].permute(1, 0, 2, 3)
    torch.testing.assert_close(warped, expected, atol=1e-4, rtol=1e-4)
    plain = pixel_view(codec).warp(latents, flow, "bicubic")[0].permute(1, 0, 2, 3)
    assert (plain - warped).abs().max() > 1e-3  # the refiner's correction moved too
    assert not any(p.requires_grad for p in view.parameters())  # a frozen copy


def test_a_refined_view_needs_the_codecs_refiner_and_an_anchor_warp(codec):
    view = PixelView(CHANNELS, 8, refiner_width=16, refiner_blocks=1)
    with pytest.raises(ValueError, match="refiner_width=8"):
        view.copy_from_codec(refined_codec(codec, width=8))
    with pytest.raises(ValueError, match="warp_refiner_width"):
        type(warp_model(codec).config)(latent_channels=4, prediction="anchored", warp_refiner_width=8)
    with pytest.raises(ValueError, match="warp_refiner_width"):
        type(warp_model(codec).config)(latent_channels=4, prediction="anchored", anchor_warp=True, warp_refiner_width=12)


def test_model_overrides_that_add_a_refiner_copy_it_from_the_codec_and_it_survives_save_and_load(codec, tmp_path):
    from bench.train.finetune import with_overrides

    refined = refined_codec(codec)
    base = warp_model(codec)
    model = with_overrides(base, {"warp_refiner_width": 8, "warp_refiner_blocks": 1}, refined)
    torch.testing.assert_close(model.pixel_view.refiner.state_dict(), refined.refiner.state_dict())
    torch.testing.assert_close(model.pixel_view.components, base.pixel_view.components)
    loaded = PackedDiT.load(model.save(tmp_path / "refined.safetensors"))
    torch.testing.assert_close(loaded.pixel_view.refiner.state_dict(), refined.refiner.state_dict())
