import json

import pytest
import torch

from framepack.attention import KVCache
from framepack.kernels import K1, Kernel
from framepack.lab.model import CheckpointNotFoundError, PackedDiT, PackedDiTConfig, preconditioning
from framepack.lab.text_encoder import START_ID, LabTextEncoder
from framepack.packed_group import PackedGroup
from framepack.packing import PatchEmbedding, pad_to_kernel

CHANNELS, HW = 4, (6, 6)


def make_model(seed: int = 0, **overrides) -> PackedDiT:
    """A tiny model whose zero-initialised (adaLN-Zero) layers are filled with small random values,
    so every path through the network actually influences the output."""
    settings = dict(latent_channels=CHANNELS, dim=32, depth=2, heads=2, text_vocab=97, seed=seed)
    settings.update(overrides)
    model = PackedDiT(PackedDiTConfig(**settings))
    generator = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.abs().any():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model.eval()


def inputs(batch: int = 2, frames: int = 4, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    context = [
        PackedGroup(torch.randn(batch, CHANNELS, 4, *HW, generator=generator), torch.arange(0, 4), Kernel.from_level(4)),
        PackedGroup(torch.randn(batch, CHANNELS, 2, *HW, generator=generator), torch.arange(4, 6), Kernel.from_level(2)),
        PackedGroup(torch.randn(batch, CHANNELS, 1, *HW, generator=generator), torch.arange(6, 7), K1),
    ]
    noisy = torch.randn(batch, CHANNELS, frames, *HW, generator=generator)
    indices = torch.arange(7, 7 + frames)
    timesteps = torch.rand(batch, frames, generator=generator)
    cond = LabTextEncoder(97, 32).condition(["a red circle bounces"] * batch)
    return noisy, indices, timesteps, context, cond


@torch.no_grad()
def test_forward_returns_velocity_shaped_like_the_section():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    out = model(noisy, indices, timesteps, context, cond)
    assert out.shape == noisy.shape and torch.isfinite(out).all()


@torch.no_grad()
def test_fresh_model_copies_the_nearest_context_frame_adaln_zero():
    model = PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=32, depth=2, heads=2, text_vocab=97))
    noisy, indices, timesteps, context, cond = inputs()
    assert not model.backbone(noisy, indices, timesteps, context, cond).any()  # F = 0 at init
    ones = torch.ones_like(timesteps)  # x0_hat = x_t − v at pure noise: the k1 frame at index 6
    torch.testing.assert_close(noisy - model(noisy, indices, ones, context, cond), context[-1].latents.expand_as(noisy))


@torch.no_grad()
def test_causal_output_for_frame_t_ignores_later_frames():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs(frames=4)
    endpoint = PackedGroup(torch.randn(2, CHANNELS, 1, *HW), torch.tensor([40]), K1)  # a planned future frame
    base = model(noisy, indices, timesteps, [*context, endpoint], cond, attention="causal")
    changed_noisy = noisy.clone()
    changed_noisy[:, :, 2:] = torch.randn_like(changed_noisy[:, :, 2:])
    other_endpoint = PackedGroup(torch.randn(2, CHANNELS, 1, *HW), torch.tensor([40]), K1)
    changed = model(changed_noisy, indices, timesteps, [*context, other_endpoint], cond, attention="causal")
    torch.testing.assert_close(changed[:, :, :2], base[:, :, :2], atol=1e-6, rtol=0)
    assert not torch.allclose(changed[:, :, 2:], base[:, :, 2:], atol=1e-4)
    # the same change is visible to earlier frames under full attention (so the mask is what hides it)
    full_base = model(noisy, indices, timesteps, context, cond)
    full_changed = model(changed_noisy, indices, timesteps, context, cond)
    assert not torch.allclose(full_changed[:, :, :2], full_base[:, :, :2], atol=1e-4)


@torch.no_grad()
def test_block_causal_output_for_a_block_ignores_later_blocks_but_sees_its_own():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs(frames=6)
    base = model(noisy, indices, timesteps, context, cond, attention="block_causal", block_frames=3)
    later = noisy.clone()
    later[:, :, 3:] = torch.randn_like(later[:, :, 3:])
    changed = model(later, indices, timesteps, context, cond, attention="block_causal", block_frames=3)
    torch.testing.assert_close(changed[:, :, :3], base[:, :, :3], atol=1e-6, rtol=0)
    within = noisy.clone()
    within[:, :, 2] = torch.randn_like(within[:, :, 2])  # last frame of block 0
    changed = model(within, indices, timesteps, context, cond, attention="block_causal", block_frames=3)
    assert not torch.allclose(changed[:, :, 0], base[:, :, 0], atol=1e-4)  # frame 0 sees frame 2 in its block
    causal = model(noisy, indices, timesteps, context, cond, attention="causal")
    causal_within = model(within, indices, timesteps, context, cond, attention="causal")
    torch.testing.assert_close(causal_within[:, :, 0], causal[:, :, 0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("attention", ["causal", "block_causal"])
@torch.no_grad()
def test_kv_cache_output_equals_full_recomputation(attention):
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    cache = KVCache()
    for step in range(3):  # denoising steps: same context, new noisy input and times
        noisy_step = noisy + 0.1 * step
        times = timesteps * (1 - 0.2 * step)
        full = model(noisy_step, indices, times, context, cond, attention=attention)
        cached = model(noisy_step, indices, times, context, cond, attention=attention, kv_cache=cache)
        torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)
    assert (cache.misses, cache.hits) == (1, 2)
    new_context = [PackedGroup(g.latents + 1, g.frame_indices, g.kernel) for g in context]
    full = model(noisy, indices, timesteps, new_context, cond, attention=attention)
    cached = model(noisy, indices, timesteps, new_context, cond, attention=attention, kv_cache=cache)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)
    assert cache.misses == 2


@torch.no_grad()
def test_kv_cache_with_full_attention_needs_context_that_ignores_noisy_tokens():
    noisy, indices, timesteps, context, cond = inputs()
    with pytest.raises(ValueError, match="kv_cache needs context"):
        make_model()(noisy, indices, timesteps, context, cond, kv_cache=KVCache())


@torch.no_grad()
def test_each_frame_uses_its_own_timestep():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs(batch=1)
    base = model(noisy, indices, timesteps, context, cond, attention="causal")
    later_t = timesteps.clone()
    later_t[:, 3] = 0.99
    changed = model(noisy, indices, later_t, context, cond, attention="causal")
    torch.testing.assert_close(changed[:, :, :3], base[:, :, :3], atol=1e-6, rtol=0)
    assert not torch.allclose(changed[:, :, 3], base[:, :, 3], atol=1e-4)


@torch.no_grad()
def test_context_timesteps_default_to_clean_and_change_the_output():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    base = model(noisy, indices, timesteps, context, cond)
    zeros = [PackedGroup(g.latents, g.frame_indices, g.kernel, torch.zeros(2, g.num_frames)) for g in context]
    torch.testing.assert_close(model(noisy, indices, timesteps, zeros, cond), base, atol=1e-6, rtol=0)
    noised = [PackedGroup(g.latents, g.frame_indices, g.kernel, torch.full((2, g.num_frames), 0.5)) for g in context]
    assert not torch.allclose(model(noisy, indices, timesteps, noised, cond), base, atol=1e-4)


@torch.no_grad()
def test_text_and_image_conditioning_change_the_output():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    encoder = model.text_encoder()
    base = model(noisy, indices, timesteps, context, cond)
    other_text = model(noisy, indices, timesteps, context, encoder.condition(["a blue square rests"] * 2))
    empty = model(noisy, indices, timesteps, context, cond.without_text())
    image = encoder.condition(["a red circle bounces"] * 2, image_latent=torch.randn(2, CHANNELS, *HW))
    with_image = model(noisy, indices, timesteps, context, image)
    for other in (other_text, empty, with_image):
        assert torch.isfinite(other).all() and not torch.allclose(other, base, atol=1e-4)


@torch.no_grad()
def test_anchored_prediction_starts_from_the_nearest_context_frame():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    velocity = model(noisy, indices, timesteps, context, cond)
    anchor = context[-1].latents.expand_as(noisy)  # the k1 frame at index 6 is every frame's nearest
    t = timesteps[:, None, :, None, None]
    residual = noisy - (1 - t) * anchor  # the network sees the noisy residual
    native = model.backbone(residual, indices, timesteps, context, cond)
    c_skip, c_out = preconditioning(t)
    x0_hat = anchor + c_skip * residual + c_out * native
    torch.testing.assert_close(velocity, (noisy - x0_hat) / t, rtol=1e-4, atol=1e-4)
    # at pure noise an untrained correction (F = 0) is exactly the copy of the last frame
    ones = torch.ones_like(timesteps)
    one_step = noisy - model(noisy, indices, ones, context, cond)
    torch.testing.assert_close(one_step, anchor + model.backbone(noisy, indices, ones, context, cond))


def test_preconditioning_gives_a_unit_variance_target_at_every_time():
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(200_000, generator=generator), torch.randn(200_000, generator=generator)
    for t in (0.05, 0.3, 0.5, 0.9):
        c_skip, c_out = preconditioning(torch.tensor(t))
        x_t = (1 - t) * x0 + t * noise
        target = (x0 - c_skip * x_t) / c_out
        assert abs(float(target.var()) - 1.0) < 0.02, (t, float(target.var()))


@torch.no_grad()
def test_save_load_round_trip(tmp_path):
    model = make_model(seed=3, kernels=("k2", "k4", "k4h2w2"))
    path = model.save(tmp_path / "nested" / "model.safetensors")
    loaded = PackedDiT.load(path)
    assert loaded.config == model.config
    noisy, indices, timesteps, context, cond = inputs()
    assert torch.equal(loaded(noisy, indices, timesteps, context, cond), model(noisy, indices, timesteps, context, cond))
    half = PackedDiT.load(model.save(tmp_path / "half.safetensors", dtype=torch.float16))
    torch.testing.assert_close(
        half(noisy, indices, timesteps, context, cond), model(noisy, indices, timesteps, context, cond), atol=0.05, rtol=0.05
    )
    assert (tmp_path / "half.safetensors").stat().st_size < path.stat().st_size * 0.6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half.safetensors", "nested"]  # no temp files left


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="missing.safetensors"):
        PackedDiT.load(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a PackedDiT checkpoint"):
        PackedDiT.load(tmp_path / "other.safetensors")


@torch.no_grad()
def test_same_seed_same_model_and_output():
    noisy, indices, timesteps, context, cond = inputs()
    first = PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=32, depth=2, heads=2, seed=7))
    torch.manual_seed(123)  # the global RNG state must not matter
    second = PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=32, depth=2, heads=2, seed=7))
    third = PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=32, depth=2, heads=2, seed=8))
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(first.state_dict().values(), third.state_dict().values(), strict=True))
    model_a, model_b = make_model(seed=5), make_model(seed=5)
    assert torch.equal(model_a(noisy, indices, timesteps, context, cond), model_b(noisy, indices, timesteps, context, cond))


def test_bad_inputs_are_named():
    model = make_model()
    noisy, indices, timesteps, context, cond = inputs()
    with pytest.raises(ValueError, match="noisy must be"):
        model(noisy[:, :2], indices, timesteps, context, cond)
    with pytest.raises(ValueError, match=r"timesteps must lie in \[0, 1\]"):
        model(noisy, indices, timesteps + 2, context, cond)
    with pytest.raises(ValueError, match="attention must be one of"):
        model(noisy, indices, timesteps, context, cond, attention="sliding")
    with pytest.raises(ValueError, match="motion_prior must be true or false"):
        PackedDiTConfig(motion_prior="prior")
    with pytest.raises(ValueError, match="unknown PackedDiTConfig keys"):
        PackedDiTConfig.from_dict({"dimension": 3})


def test_patch_embedding_equals_conv3d_with_replicate_padding():
    torch.manual_seed(0)
    for kernel in (K1, Kernel.from_level(2), Kernel(4, 2, 2)):
        embedding = PatchEmbedding(CHANNELS, 8, kernel)
        latents = torch.randn(2, CHANNELS, 5, 7, 6)
        reference = embedding.proj(pad_to_kernel(latents, kernel)).flatten(2).transpose(1, 2)
        torch.testing.assert_close(embedding(latents), reference, atol=1e-5, rtol=1e-4)


def test_lab_text_encoder_hashes_any_prompt_stably():
    encoder = LabTextEncoder(vocab_size=50, max_tokens=5)
    ids, mask = encoder.encode(["A red circle!", "a RED circle", "", "one two three four five six"])
    assert torch.equal(ids[0], ids[1])  # case and punctuation do not matter
    assert ids[2].tolist() == [START_ID, 0, 0, 0, 0] and mask[2].tolist() == [True, False, False, False, False]
    assert ids.shape == (4, 5) and mask[3].all()  # cut to max_tokens
    assert all(2 <= i < 50 for i in ids[0, 1:4].tolist())
    assert LabTextEncoder(50, 5).ids("red") == encoder.ids("red")
    assert encoder.word_id("red") != encoder.word_id("blue") or encoder.word_id("red") != encoder.word_id("green")


def test_fresh_model_learns_a_fixed_batch():
    """adaLN-Zero starts at zero output; gradients must still reach every path so the loss falls."""
    torch.manual_seed(0)
    model = PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=16, depth=1, heads=2, text_vocab=97)).train()
    _, indices, timesteps, context, cond = inputs(batch=2, frames=2)
    x0 = torch.randn(2, CHANNELS, 2, *HW)
    noise = torch.randn_like(x0)
    t = timesteps[:, None, :, None, None]
    x_t = (1 - t) * x0 + t * noise
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster than two fighting over a busy machine
    try:
        for _ in range(30):
            loss = torch.nn.functional.mse_loss(model(x_t, indices, timesteps, context, cond), noise - x0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad is not None for name, p in model.named_parameters() if not name.startswith("image_"))


@torch.no_grad()
def test_added_kernels_start_from_k1_and_survive_save_load(tmp_path):
    model = make_model(kernels=("k2",))
    added = model.add_kernels(["k4", "k1h4w4", "k2"])
    assert [str(k) for k in added] == ["k4", "k1h4w4"]
    latents = torch.randn(1, CHANNELS, 4, 8, 8)
    k1 = model.context_embeddings[K1.key]
    for kernel in added:
        pooled = torch.nn.functional.avg_pool3d(latents, kernel.ratio, kernel.ratio)
        torch.testing.assert_close(model.context_embeddings[kernel.key](latents), k1(pooled), atol=1e-5, rtol=1e-4)
    loaded = PackedDiT.load(model.save(tmp_path / "m.safetensors"))
    assert set(loaded.context_embeddings) == set(model.context_embeddings)


def format_1_copy(model: PackedDiT, path, **stored) -> None:
    """`model` written as a format-1 file, whose config also stored the switches of dropped designs."""
    from safetensors.torch import save_file

    config = {k: v for k, v in model.config.to_dict().items() if k != "motion_prior"}
    config.update({"prediction": "anchored", "anchor_input": False, "anchor_gate": "none", "x0_min_t": 0.05,
                   "context_sees_noisy": True, "image_conditioning": True, "anchor_warp": model.config.motion_prior,
                   "warp_flow": "prior", "warp_resample": "bicubic", "warp_refiner_width": 0, "warp_refiner_blocks": 2,
                   **stored})
    metadata = {"format": "framepack-bench/PackedDiT/1", "config": json.dumps(config)}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=metadata)


@torch.no_grad()
def test_format_1_checkpoints_load_with_the_designs_that_shipped(tmp_path):
    noisy, indices, timesteps, context, cond = inputs()
    for motion_prior in (False, True):
        model = make_model(motion_prior=motion_prior)
        format_1_copy(model, tmp_path / "old.safetensors")
        loaded = PackedDiT.load(tmp_path / "old.safetensors")
        assert loaded.config == model.config
        assert torch.equal(loaded(noisy, indices, timesteps, context, cond), model(noisy, indices, timesteps, context, cond))
    for dropped in ({"prediction": "x0"}, {"context_sees_noisy": False}, {"warp_flow": "rigid"}, {"warp_refiner_width": 8}):
        format_1_copy(make_model(motion_prior=True), tmp_path / "dropped.safetensors", **dropped)
        name, value = next(iter(dropped.items()))
        with pytest.raises(ValueError, match=f"sets {name}={value!r}.*Dropped designs"):
            PackedDiT.load(tmp_path / "dropped.safetensors")
