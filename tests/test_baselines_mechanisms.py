"""Mechanism tests of the five baselines: each fails if its defining mechanism is wrong."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.anchor_frames import anchor_frames_lab
from baselines.backbone import BaselineBackbone
from baselines.causal_attention import causal_attention_backbone, causal_attention_lab
from baselines.history_guidance import history_guidance_lab
from baselines.history_noise import ScaledHistoryLevel, content_seed
from baselines.noisy_history import noisy_history_lab
from baselines.repeated_i2v import repeated_i2v_lab
from framepack.flow_matching import time_grid
from framepack.framepack_generator import frames_to_unit, section_seed
from framepack.generator import GenerationRequest, MemorySink
from framepack.kernels import K1
from framepack.lab.model import PackedDiT, PackedDiTConfig
from framepack.packed_group import PackedGroup

FRAMES = 3  # latent frames per section in these tests (the lab rows use 9)


class PoolCodec:
    """Stand-in codec: 8×8 average pooling to 3-channel latents, nearest upsampling back; records
    every decoded latent tensor."""

    def __init__(self):
        self.decoded = []

    def encode(self, frames):
        b, c, t, h, w = frames.shape
        z = F.avg_pool2d(frames.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), 8)
        return z.reshape(b, t, c, h // 8, w // 8).permute(0, 2, 1, 3, 4)

    def decode(self, latents):
        self.decoded.append(latents.clone())
        b, c, t, h, w = latents.shape
        x = F.interpolate(latents.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), scale_factor=8, mode="nearest")
        return x.clamp(-1, 1).reshape(b, t, c, h * 8, w * 8).permute(0, 2, 1, 3, 4)


class Recorder(torch.nn.Module):
    """Wraps a packed model and records what it receives on every call."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = []

    def text_encoder(self):
        return self.model.text_encoder()

    def forward(self, noisy, noisy_indices, timesteps, context, cond, **options):
        self.calls.append(
            {"noisy": noisy.clone(), "indices": noisy_indices.clone(), "t": timesteps.clone(),
             "context": list(context), "cond": cond, "options": dict(options)}
        )
        return self.model(noisy, noisy_indices, timesteps, context, cond, **options)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    dit = PackedDiT(PackedDiTConfig(latent_channels=3, dim=32, depth=2, heads=2, text_layers=0, seed=3)).eval()
    with torch.no_grad():  # adaLN-Zero starts as the identity; give the blocks something to do
        for parameter in dit.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return dit


def picture(seed):
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def generate(generator, sections=3, seed=0, start=None):
    sink = MemorySink()
    start = picture(1) if start is None else start
    generator.generate(GenerationRequest("a red ball bounces", start_image=start, num_sections=sections, seed=seed), sink)
    return sink.frames()


def encode(codec, image):
    return codec.encode(frames_to_unit(image))[:, :, 0]


# -- causal attention ---------------------------------------------------------------------------------


def test_causal_backbone_mask_is_block_causal(model):
    """A frame's velocity does not change when a LATER block changes, and does when an earlier one does."""
    backbone = causal_attention_backbone(model)
    cond = model.text_encoder().condition("a red ball")
    history = PackedGroup(torch.randn(1, 3, 2, 8, 8), torch.arange(0, 2), K1)
    noisy = torch.randn(1, 3, 4, 8, 8)
    indices, t = torch.arange(2, 6), torch.full((1, 4), 0.7)

    def velocity(x):
        return backbone(x, indices, t, [history], cond, block_frames=2)

    base = velocity(noisy)
    later = noisy.clone()
    later[:, :, 2:] += 1.0  # change block 1 (frames 2, 3)
    changed_later = velocity(later)
    assert torch.equal(changed_later[:, :, :2], base[:, :, :2])  # block 0 cannot see block 1
    assert not torch.allclose(changed_later[:, :, 2:], base[:, :, 2:])
    earlier = noisy.clone()
    earlier[:, :, :2] += 1.0  # change block 0
    assert not torch.allclose(velocity(earlier)[:, :, 2:], base[:, :, 2:])  # block 1 sees block 0
    # full attention (the base model) would let block 0 see block 1
    full = model(later, indices, t, [history], cond)
    assert not torch.allclose(full[:, :, :2], model(noisy, indices, t, [history], cond)[:, :, :2])


def test_causal_generator_calls_the_model_block_causal_with_a_kv_cache(model):
    recorder = Recorder(model)
    generate(causal_attention_lab(recorder, PoolCodec(), frames_per_section=FRAMES, steps=2), sections=2)
    assert recorder.calls and all(c["options"]["attention"] == "block_causal" for c in recorder.calls)
    assert all("kv_cache" in c["options"] for c in recorder.calls)


def test_kv_cache_gives_the_same_frames_as_recomputation(model, monkeypatch):
    import framepack.attention

    caches = []

    class CountedCache(framepack.attention.KVCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            caches.append(self)

    monkeypatch.setattr(framepack.attention, "KVCache", CountedCache)
    latents, frames = [], []
    for cached in (False, True):
        codec = PoolCodec()
        generator = causal_attention_lab(model, codec, frames_per_section=FRAMES, steps=3, kv_cache=cached)
        frames.append(generate(generator, sections=2))
        latents.append(torch.cat(codec.decoded, dim=2))
    torch.testing.assert_close(latents[1], latents[0], atol=1e-5, rtol=1e-5)
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).max() <= 1
    # the cached run computed each section's clean history once and reused it for the other steps
    assert [(cache.misses, cache.hits) for cache in caches] == [(1, 2)] * 2


# -- noisy history ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_noisy_history_model_receives_history_at_sigma_times_t(model, sigma):
    recorder = Recorder(model)
    codec = PoolCodec()
    steps = 3
    generator = noisy_history_lab(recorder, codec, sigma_test=sigma, frames_per_section=FRAMES, steps=steps)
    generate(generator, sections=2)
    grid = time_grid(steps, generator.shift)
    assert len(recorder.calls) == 2 * steps
    start = encode(codec, picture(1))
    for index, call in enumerate(recorder.calls):
        t = float(grid[index % steps])
        assert torch.allclose(call["t"], torch.full_like(call["t"], t))
        (group,) = call["context"]
        tau = sigma * t
        torch.testing.assert_close(group.timesteps, torch.full_like(group.timesteps, tau))
        if index < steps:  # section 0: history = zero slots and the start frame, noised
            clean = torch.zeros_like(group.latents)
            clean[:, :, -1] = start
            noise = (group.latents - (1 - tau) * clean) / tau
            first = recorder.calls[0]["context"][0]
            first_noise = (first.latents - (1 - sigma * float(grid[0])) * clean) / (sigma * float(grid[0]))
            torch.testing.assert_close(noise, first_noise, atol=1e-4, rtol=1e-4)  # one ε per section
            assert 0.7 < float(noise.std()) < 1.3


def test_noisy_history_noise_is_seeded_by_content_and_sigma_zero_is_clean(model):
    recorder = Recorder(model)
    backbone = BaselineBackbone(recorder, history_level=ScaledHistoryLevel(0.5))
    cond = model.text_encoder().condition("x")
    history = PackedGroup(torch.randn(1, 3, 2, 8, 8), torch.arange(2), K1)
    noisy = torch.randn(1, 3, 2, 8, 8)
    backbone(noisy, torch.arange(2, 4), torch.full((1, 2), 0.8), [history], cond)
    seen = recorder.calls[-1]["context"][0]
    epsilon = torch.randn(history.latents.shape, generator=torch.Generator().manual_seed(content_seed(history)))
    torch.testing.assert_close(seen.latents, 0.6 * history.latents + 0.4 * epsilon)
    BaselineBackbone(recorder, history_level=ScaledHistoryLevel(0.0))(noisy, torch.arange(2, 4), torch.full((1, 2), 0.8), [history], cond)
    assert recorder.calls[-1]["context"][0] is history  # σ = 0: the clean history itself


def test_random_sigma_training_draws_one_sigma_per_example(model):
    recorder = Recorder(model)
    backbone = BaselineBackbone(recorder, history_level=ScaledHistoryLevel(None), noise_generator=torch.Generator().manual_seed(0))
    cond = model.text_encoder().condition(["x"] * 6)
    history = PackedGroup(torch.randn(6, 3, 2, 8, 8), torch.arange(2), K1)
    t = torch.linspace(0.2, 1.0, 6)[:, None].expand(6, 2)
    backbone(torch.randn(6, 3, 2, 8, 8), torch.arange(2, 4), t, [history], cond)
    levels = recorder.calls[-1]["context"][0].timesteps[:, 0]
    ratio = levels / t[:, 0]
    assert bool(((ratio >= 0) & (ratio <= 1)).all()) and float(ratio.std()) > 0.05


# -- history guidance ---------------------------------------------------------------------------------


def test_history_guidance_equals_the_explicit_formula(model):
    recorder = Recorder(model)
    codec = PoolCodec()
    w, seed = 3.0, 4
    generator = history_guidance_lab(recorder, codec, guidance_scale=w, frames_per_section=FRAMES, steps=1, solver="euler")
    generate(generator, sections=1, seed=seed)
    conditional, unconditional = recorder.calls  # one step, two branches
    # the conditional branch sees the clean history: zero slots and the start frame
    (clean,) = conditional["context"]
    assert clean.timesteps is None and torch.equal(clean.latents[:, :, -1], encode(codec, picture(1)))
    assert not clean.latents[:, :, :-1].any()
    # the unconditional branch: the same prompt, the history replaced by pure noise at t = 1
    (noised,) = unconditional["context"]
    stream = torch.Generator().manual_seed(section_seed(seed, 0))
    noise = torch.randn(conditional["noisy"].shape, generator=stream)
    assert torch.equal(noised.latents, torch.randn(clean.latents.shape, generator=stream))
    assert torch.equal(noised.timesteps, torch.ones_like(noised.timesteps))
    assert unconditional["cond"] is conditional["cond"]
    # one Euler step from t = 1 to 0 with v = v_u + w·(v_c − v_u)
    with torch.no_grad():
        v_c = model(noise, conditional["indices"], conditional["t"], [clean], conditional["cond"])
        v_u = model(noise, conditional["indices"], conditional["t"], [noised], conditional["cond"])
    expected = noise - (v_u + w * (v_c - v_u))
    torch.testing.assert_close(codec.decoded[0], expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(v_c, v_u)  # the history matters, so the test can tell


# -- repeated image-to-video --------------------------------------------------------------------------


def test_repeated_i2v_conditions_only_on_the_last_frame(model):
    recorder = Recorder(model)
    codec = PoolCodec()
    steps = 2
    generator = repeated_i2v_lab(recorder, codec, frames_per_section=FRAMES, steps=steps)
    video = generate(generator, sections=3, seed=7)
    assert video.shape[0] == 1 + 3 * FRAMES and generator.steps == steps
    for run in range(3):
        last_frame = video[run * FRAMES]  # the start image, then each run's last frame
        expected = encode(codec, last_frame)
        for call in recorder.calls[run * steps : (run + 1) * steps]:
            (group,) = call["context"]
            assert group.num_frames == 1 and torch.equal(group.latents[:, :, 0], expected)
            assert torch.equal(call["cond"].image_latent, expected)
    # run 2 is exactly an image-to-video run from frame 6: nothing earlier reaches it
    alone = MemorySink()
    generator.single.generate(
        GenerationRequest("a red ball bounces", start_image=video[2 * FRAMES], num_sections=1,
                          seed=generator.run_seed(7, 2)), alone)
    assert np.array_equal(alone.frames()[1:], video[2 * FRAMES + 1 :])


# -- anchor frames ------------------------------------------------------------------------------------


def test_anchor_frames_always_include_the_start_frame(model):
    recorder = Recorder(model)
    codec = PoolCodec()
    generator = anchor_frames_lab(recorder, codec, frames_per_section=FRAMES, steps=1)
    sections = 6
    request = GenerationRequest("a red ball bounces", start_image=picture(1), num_sections=sections)
    plans = generator.plan(request)
    assert all(any(piece.role == "start" and piece.frames == (0,) for piece in plan.context) for plan in plans)
    generate(generator, sections=sections)
    start = encode(codec, picture(1))
    assert len(recorder.calls) == sections
    for call, plan in zip(recorder.calls, plans, strict=True):
        anchors = [g for g in call["context"] if g.num_frames == 1 and torch.equal(g.latents[:, :, 0], start)]
        assert len(anchors) == 1 and anchors[0].timesteps is None
        recent = [g for g in call["context"] if g is not anchors[0]][0]
        assert recent.num_frames == FRAMES - 1  # the rest of the history half: the latest frames
        if plan.section >= 1:
            latest = max(f for piece in plan.context for f in piece.real_frames)
            assert latest == plan.generated[0] - 1


# -- the shared window ---------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 3, 9])
def test_sliding_windows_give_half_of_the_context_to_uncompressed_history(frames):
    from baselines.sliding_window import anchored_window_schedule, window_schedule

    latent_hw = (8, 8)
    section_tokens = frames * 16  # k1 tokens of the generated frames
    for schedule in (window_schedule(frames), anchored_window_schedule(frames)):
        assert all(kernel == K1 for kernel in schedule.kernels)
        assert schedule.token_count(history_frames=100, latent_hw=latent_hw) == 2 * section_tokens


def test_fractional_history_guidance_noises_the_unconditional_history_partly():
    from baselines.history_guidance import partially_noised_history
    from framepack.framepack_generator import SectionInputs, fully_noised_history

    assert partially_noised_history(1.0) is fully_noised_history
    history = PackedGroup(torch.randn(1, 3, 2, 8, 8), torch.arange(2), K1)
    branch = partially_noised_history(0.25)(SectionInputs("cond", [history]), torch.Generator().manual_seed(0))
    (group,) = branch.context
    epsilon = torch.randn(history.latents.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(group.latents, 0.75 * history.latents + 0.25 * epsilon)
    assert torch.equal(group.timesteps, torch.full((1, 2), 0.25))
    with pytest.raises(ValueError, match="uncond_level"):
        partially_noised_history(0.0)
