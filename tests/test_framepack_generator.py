import numpy as np
import pytest
import torch
import torch.nn.functional as F

from framepack.discrete_history import Codebook
from framepack.framepack_generator import (
    FramePackGenerator,
    SectionInputs,
    fully_noised_history,
    section_seed,
)
from framepack.generator import GenerationRequest, Generator, MemorySink
from framepack.packed_group import PackedGroup


class PoolCodec:
    """Stand-in codec: 8×8 average pooling to 3-channel latents, nearest upsampling back."""

    def encode(self, frames):
        b, c, t, h, w = frames.shape
        flat = frames.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        z = F.avg_pool2d(flat, 8)
        return z.reshape(b, t, c, h // 8, w // 8).permute(0, 2, 1, 3, 4)

    def decode(self, latents):
        b, c, t, h, w = latents.shape
        flat = latents.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        x = F.interpolate(flat, scale_factor=8, mode="nearest").clamp(-1, 1)
        return x.reshape(b, t, c, h * 8, w * 8).permute(0, 2, 1, 3, 4)


class ToyModel:
    """Stand-in velocity model: pulls the section toward the mean context latent (plus a bias from
    the prompt's length), so outputs depend on noise, context and prompt. Records every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, noisy, noisy_indices, timesteps, context, cond):
        self.calls.append({"indices": noisy_indices.tolist(), "context": context, "cond": cond, "t": timesteps})
        target = torch.zeros_like(noisy)
        if context:
            target = target + torch.stack([g.latents.mean(dim=2) for g in context]).mean(dim=0)[:, :, None]
        return 0.5 * (noisy - target) - 0.05 * len(cond)


def prompt_as_cond(prompt, image_latent):
    return prompt


def image(seed, value=None):
    rng = np.random.default_rng(seed)
    if value is not None:
        return np.full((64, 64, 3), value, dtype=np.uint8)
    return rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)


def make(schedule="td_f4k2f2k1_g2", order=None, steps=2, **kwargs):
    model = kwargs.pop("model", ToyModel())
    return FramePackGenerator(
        model, PoolCodec(), schedule, order=order, steps=steps, condition=prompt_as_cond, **kwargs
    ), model


class RecordingSink(MemorySink):
    def __init__(self):
        super().__init__()
        self.order = []
        self.closed = False

    def put(self, first_index, frames):
        self.order.append(first_index)
        super().put(first_index, frames)

    def close(self):
        self.closed = True


def run(generator, **request):
    sink = RecordingSink()
    generator.generate(GenerationRequest(**{"prompt": "a red ball", **request}), sink)
    return sink


def test_is_a_generator_named_after_its_schedule():
    generator, _ = make()
    assert isinstance(generator, Generator)
    assert generator.name == "td_f4k2f2k1_g2"
    assert make(order="anti_drifting")[0].name == "td_f4k2f2k1_g2 (anti_drifting)"


def test_vanilla_video_has_every_frame_and_starts_with_the_start_image():
    start = image(0)
    sink = run(make()[0], start_image=start, num_sections=3)
    frames = sink.frames()
    assert frames.shape == (1 + 3 * 2, 64, 64, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[0], start)
    assert sink.closed and sink.order == [0, 1, 3, 5]


def test_same_seed_gives_identical_video_and_another_seed_does_not():
    generator, _ = make(solver="euler")
    a = run(generator, start_image=image(1), num_sections=2, seed=5).frames()
    b = run(generator, start_image=image(1), num_sections=2, seed=5).frames()
    c = run(generator, start_image=image(1), num_sections=2, seed=6).frames()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_section_noise_seeds_are_distinct_and_stable():
    seeds = [section_seed(3, s) for s in range(50)]
    assert len(set(seeds)) == 50 and seeds == [section_seed(3, s) for s in range(50)]
    assert section_seed(3, 0) != section_seed(4, 0)


def test_inverted_order_delivers_sections_end_first_and_the_sink_gets_all_frames():
    generator, model = make("f1k1_x_g3_f1k1f2k2f16k4_td")
    sink = run(generator, start_image=image(2), num_sections=3)
    assert sink.order == [0, 7, 4, 1]
    assert sink.frames().shape[0] == 10
    assert model.calls[0]["indices"] == [7, 8, 9]  # released layout: gap of 2 sections
    assert [len(g.frame_indices) for g in model.calls[0]["context"]] == [1, 1, 2, 16]


def test_progress_reports_every_section_and_every_step():
    events = []
    generator, _ = make(steps=3)
    run(generator, num_sections=4, on_progress=events.append)
    sections = [e for e in events if e.kind == "section"]
    steps = [e for e in events if e.kind == "step"]
    assert [(e.done, e.total) for e in sections] == [(i, 4) for i in range(1, 5)]
    assert len(steps) == 12 and all(e.total == 3 for e in steps)
    assert [e.done for e in steps[:3]] == [1, 2, 3] and steps[-1].section == 3


@pytest.mark.parametrize(
    ("schedule", "order"),
    [
        ("td_f4k2f2k1_g2", "vanilla"),
        ("f1k1_x_g2_f1k1f2k2_td", "inverted_anti_drifting"),
        ("td_f4k2f1k1_g2_x_f1k1", "anti_drifting"),
    ],
)
def test_history_buffer_is_bounded_whatever_the_video_length(schedule, order):
    peaks = []
    for sections in (4, 64):
        generator, _ = make(schedule, order=order, steps=1, solver="euler")
        frames = run(generator, start_image=image(3), num_sections=sections).frames()
        assert len(frames) == 1 + 2 * sections
        peaks.append(generator.peak_buffer_frames)
    assert peaks[0] == peaks[1]
    context_frames = sum(piece.frames for piece in generator.schedule.groups)
    assert peaks[1] <= context_frames + 2  # at most the context plus one section


def test_guidance_uses_the_unconditional_branch_with_its_own_context():
    seen = []

    def branch(inputs, generator):
        seen.append(inputs)
        return SectionInputs("", fully_noised_history(inputs, generator).context)

    plain = run(make(solver="euler")[0], start_image=image(4), num_sections=2).frames()
    generator, model = make(solver="euler", guidance=3.0, unconditional=branch)
    guided = run(generator, start_image=image(4), num_sections=2).frames()
    assert len(seen) == 2 and seen[0].cond == "a red ball"
    assert not np.array_equal(plain, guided)
    unconditional_calls = [call for call in model.calls if call["cond"] == ""]
    assert len(unconditional_calls) == 2 * 2  # two sections, two steps
    for group in unconditional_calls[0]["context"]:
        assert torch.equal(group.frame_timesteps(), torch.ones(1, group.num_frames))


def test_fully_noised_history_replaces_latents_and_sets_t_to_one():
    group = PackedGroup(torch.zeros(1, 3, 2, 4, 4), torch.tensor([0, 1]), make()[0].schedule.kernels[0])
    out = fully_noised_history(SectionInputs("p", [group]), torch.Generator().manual_seed(0))
    assert out.cond == "p"
    assert not torch.equal(out.context[0].latents, group.latents)
    assert torch.equal(out.context[0].timesteps, torch.ones(1, 2))


def test_discrete_history_quantizes_history_but_not_the_start_frame():
    codebook = Codebook(torch.tensor([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]))
    generator, model = make("td_f4k2f2k1_g2+D", codebook=codebook, steps=1)
    start = image(5)
    run(generator, start_image=start, num_sections=3)
    start_latent = PoolCodec().encode(torch.from_numpy(start).permute(2, 0, 1)[None, :, None].float() / 127.5 - 1)
    last_context = model.calls[-1]["context"]  # sees frames 1..4 (history) in k1/k2 groups
    missing = []
    for group in last_context:
        pixels = group.latents.permute(0, 2, 3, 4, 1).reshape(-1, 3)
        is_zero = [bool((p == 0).all()) for p in pixels]
        missing += is_zero
        # real history frames are code words; frames before the video stay zero (not the nearest code)
        assert all(z or any(torch.equal(p, c) for c in codebook.codewords) for p, z in zip(pixels, is_zero, strict=True))
    assert any(missing) and not all(missing)
    first_k1 = model.calls[0]["context"][-1]  # slots: a zero slot, then the start frame
    assert torch.allclose(first_k1.latents[:, :, 1], start_latent[:, :, 0])
    with pytest.raises(ValueError, match="codebook"):
        make("td_f4k2f2k1_g2+D")


def test_inverted_first_section_sees_the_end_image():
    generator, model = make("f1k1_x_g2_f1k1f2k2f4k4_td")
    end = image(6, value=255)
    run(generator, start_image=image(7), end_image=end, num_sections=3)
    post = model.calls[0]["context"][1]
    assert torch.allclose(post.latents, torch.ones_like(post.latents))
    assert all(not torch.equal(c["context"][1].latents, post.latents) for c in model.calls[2:])


def test_multiple_endpoints_give_each_segment_its_own_prompt():
    generator, model = make("td_f4k2f1k1_g1_x_f1k1", order="multiple_endpoints", steps=1)
    sink = run(generator, prompt="aa | bbbb", num_sections=4)
    assert sink.frames().shape[0] == 4
    prompt_per_section = {}
    for plan in generator.plan(GenerationRequest(prompt="aa | bbbb", num_sections=4)):
        prompt_per_section[plan.section] = plan.prompt_index
    assert prompt_per_section == {0: 0, 1: 0, 2: 1, 3: 1}
    assert sorted(call["cond"] for call in model.calls) == ["aa", "aa", "bbbb", "bbbb"]


def test_runs_the_real_packed_dit_and_lab_codec():
    from framepack.lab.codec import LabCodec, LabCodecConfig
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    codec = LabCodec(LabCodecConfig(latent_channels=4, widths=(8, 8, 8)))
    model = PackedDiT(PackedDiTConfig(latent_channels=4, dim=32, depth=1, heads=2, text_layers=0)).eval()
    generator = FramePackGenerator(model, codec, "f1k1_x_g2_f1k1f2k2f16k4_td", steps=2, guidance=2.0)
    events = []
    sink = MemorySink()
    generator.generate(GenerationRequest("a blue square", start_image=image(8), num_sections=2, on_progress=events.append), sink)
    assert sink.frames().shape == (5, 64, 64, 3)
    assert len([e for e in events if e.kind == "step"]) == 4


def test_kv_cache_reuses_the_context_and_changes_nothing(monkeypatch):
    import framepack.attention
    from framepack.lab.model import PackedDiT, PackedDiTConfig

    caches = []

    class RecordedCache(framepack.attention.KVCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            caches.append(self)

    monkeypatch.setattr(framepack.attention, "KVCache", RecordedCache)
    config = PackedDiTConfig(latent_channels=3, dim=32, depth=1, heads=2, text_layers=0)
    model = PackedDiT(config).eval()
    videos = []
    for cached in (False, True):  # block-causal: the context (before the section) does not see the noisy tokens
        generator = FramePackGenerator(model, PoolCodec(), "td_f4k2f2k1_g2", steps=3, attention="block_causal",
                                       kv_cache=cached)
        videos.append(run(generator, start_image=image(9), num_sections=2).frames())
    assert np.abs(videos[0].astype(int) - videos[1].astype(int)).max() <= 1
    assert len(caches) == 2  # one per section (no CFG branch)
    assert [(cache.misses, cache.hits) for cache in caches] == [(1, 2), (1, 2)]


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="order"):
        make("td_f1k1_g1_f1k1_td")  # a custom form needs an explicit order
    with pytest.raises(ValueError, match="solver"):
        make(solver="heun")
    with pytest.raises(ValueError, match="steps"):
        make(steps=0)
    with pytest.raises(ValueError, match="prompt segments"):
        run(make("td_f1k1_g1_x_f1k1", order="multiple_endpoints")[0], prompt="a|b|c", num_sections=2)
