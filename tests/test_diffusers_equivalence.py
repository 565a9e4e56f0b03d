"""The suite's full-scale sampler reproduces diffusers' HunyuanVideoFramepackPipeline frame for frame.

Both run the same tiny random-weight FramePack components, saved in diffusers' folder layout and
loaded back, with the same inputs and seed (the seed's stream is drawn in the pipeline's order).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from framepack.generator import GenerationRequest, MemorySink
from framepack.hunyuan.generator import PromptEmbeddings, load_hunyuan_generator, with_options
from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder

pytestmark = pytest.mark.full_scale

SIZE = 16
STEPS = 2
GUIDANCE = 10.0


def tiny_prompt_embeddings(prompt: str) -> PromptEmbeddings:
    """Deterministic stand-in text embeddings (the tiny model has no tokenizers)."""
    generator = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))
    return PromptEmbeddings(
        prompt_embeds=torch.randn(1, 7, 16, generator=generator),
        prompt_attention_mask=torch.tensor([[1, 1, 1, 1, 1, 0, 0]], dtype=torch.float32),
        pooled_prompt_embeds=torch.randn(1, 8, generator=generator),
    )


def random_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path_factory.mktemp("tiny_hunyuan"))


@pytest.fixture(scope="module")
def diffusers_pipeline(tiny_folder):
    from diffusers import HunyuanVideoFramepackPipeline

    pipe = HunyuanVideoFramepackPipeline.from_pretrained(tiny_folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def suite_generator(tiny_folder):
    return load_hunyuan_generator(
        tiny_folder,
        prompt_encoder=tiny_prompt_embeddings,
        height=SIZE,
        width=SIZE,
        steps=STEPS,
        distilled_guidance=GUIDANCE,
        device="cpu",
    )


def diffusers_frames(pipe, order, request, window=9):
    from PIL import Image

    text = tiny_prompt_embeddings(request.prompt)
    output = pipe(
        image=Image.fromarray(request.start_image),
        last_image=None if request.end_image is None else Image.fromarray(request.end_image),
        prompt_embeds=text.prompt_embeds,
        prompt_attention_mask=text.prompt_attention_mask,
        pooled_prompt_embeds=text.pooled_prompt_embeds,
        height=SIZE,
        width=SIZE,
        num_frames=request.num_sections * ((window - 1) * 4 + 1),
        latent_window_size=window,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        generator=torch.Generator().manual_seed(request.seed),
        output_type="np",
        sampling_type=order,
    )
    return output.frames[0]


def suite_frames(generator, request):
    chunks = {}
    generator.generate_unit_frames(request, lambda first, frames: chunks.__setitem__(first, frames.numpy()))
    ordered = sorted(chunks.items())
    position = 0
    for first, chunk in ordered:
        assert first == position, f"chunk at {first}, expected {position}"
        position += len(chunk)
    return np.concatenate([chunk for _, chunk in ordered])


@pytest.mark.parametrize(
    ("order", "num_sections", "window", "with_end"),
    [
        ("inverted_anti_drifting", 2, 9, False),
        ("vanilla", 2, 9, False),
        ("inverted_anti_drifting", 2, 9, True),
        ("inverted_anti_drifting", 5, 3, False),  # > 4 sections: the capped paddings [3, 2, 2, 1, 0]
        ("vanilla", 3, 3, False),
    ],
)
def test_suite_frames_equal_diffusers_pipeline(diffusers_pipeline, suite_generator, order, num_sections, window, with_end):
    request = GenerationRequest(
        prompt="a red ball bounces",
        start_image=random_image(1),
        end_image=random_image(2) if with_end else None,
        num_sections=num_sections,
        seed=7,
    )
    generator = with_options(suite_generator, order=order, window=window)
    expected = diffusers_frames(diffusers_pipeline, order, request, window)
    actual = suite_frames(generator, request)
    assert actual.shape == expected.shape == (4 * window * num_sections + 1, SIZE, SIZE, 3)
    assert np.abs(actual - expected).max() <= 1e-4


def test_end_image_changes_the_video(suite_generator):
    generator = with_options(suite_generator, window=3)
    base = GenerationRequest(prompt="a red ball", start_image=random_image(1), num_sections=2, seed=3)
    with_end = GenerationRequest(
        prompt="a red ball", start_image=random_image(1), end_image=random_image(2), num_sections=2, seed=3
    )
    assert np.abs(suite_frames(generator, base) - suite_frames(generator, with_end)).max() > 1e-3


def test_different_seeds_give_different_frames_and_same_seed_the_same(suite_generator):
    generator = with_options(suite_generator, window=3)

    def frames(seed):
        return suite_frames(generator, GenerationRequest(prompt="p", start_image=random_image(1), seed=seed))

    first = frames(0)
    np.testing.assert_array_equal(first, frames(0))
    assert np.abs(first - frames(1)).max() > 1e-3


def test_generate_hands_uint8_frames_to_the_sink_matching_diffusers(diffusers_pipeline, suite_generator):
    request = GenerationRequest(prompt="a cat", start_image=random_image(4), num_sections=2, seed=11)
    sink = MemorySink()
    with_options(suite_generator, window=3).generate(request, sink)
    expected = diffusers_frames(diffusers_pipeline, "inverted_anti_drifting", request, window=3)
    expected = (expected * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(sink.frames(), expected)


def test_vanilla_rejects_an_end_image(suite_generator):
    request = GenerationRequest(prompt="p", start_image=random_image(1), end_image=random_image(2))
    with pytest.raises(ValueError, match="end image"):
        suite_frames(with_options(suite_generator, order="vanilla"), request)


@pytest.mark.parametrize("num_sections", [1, 2, 3, 4, 5, 8])
def test_released_inverted_layout_is_the_suite_section_plan(num_sections):
    """Without an end image, the inverted plans the generator follows are `plan_sections`' own, and
    they place frames where the released loop does (what the equivalence test relies on)."""
    from framepack.hunyuan.layout import released_plans
    from framepack.section_plan import plan_sections

    plans = released_plans("inverted_anti_drifting", num_sections, window=9)
    assert plans == plan_sections("f1k1_x_g9_f1k1f2k2f16k4_td", num_sections, "inverted_anti_drifting", has_start=True)
    gaps = [plan.generated_positions[0] - 1 for plan in plans]
    expected_paddings = [3] + [2] * (num_sections - 3) + [1, 0] if num_sections > 4 else list(range(num_sections))[::-1]
    assert gaps == [9 * p for p in expected_paddings]
    for plan in plans:  # history: k1, k2, k4 right after the section, zero-filled beyond the video
        after = [piece for piece in plan.context if piece.role != "start"]
        assert [len(piece.frames) for piece in after] == [1, 2, 16]
        expected = [f if f <= 9 * num_sections else None for f in range(plan.generated[-1] + 1, plan.generated[-1] + 20)]
        assert [f for piece in after for f in piece.frames] == expected


def test_prompt_encoding_through_the_tokenizers_matches_diffusers(tiny_folder, diffusers_pipeline):
    from PIL import Image

    generator = load_hunyuan_generator(
        tiny_folder, height=SIZE, width=SIZE, steps=STEPS, window=3, distilled_guidance=GUIDANCE, device="cpu"
    )
    request = GenerationRequest(prompt="a red ball drifts left", start_image=random_image(3), num_sections=1, seed=2)
    expected = diffusers_pipeline(
        image=Image.fromarray(request.start_image),
        prompt=request.prompt,
        height=SIZE,
        width=SIZE,
        num_frames=(3 - 1) * 4 + 1,
        latent_window_size=3,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        generator=torch.Generator().manual_seed(request.seed),
        output_type="np",
    ).frames[0]
    assert np.abs(suite_frames(generator, request) - expected).max() <= 1e-4


def test_resolution_dependent_shift_matches_diffusers(tiny_folder, tmp_path):
    """A scheduler with use_dynamic_shifting: the suite derives mu as the pipeline does."""
    import json
    import shutil

    from diffusers import HunyuanVideoFramepackPipeline

    folder = tmp_path / "dynamic"
    shutil.copytree(tiny_folder, folder)
    config_path = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_path.read_text())
    config["use_dynamic_shifting"] = True
    config_path.write_text(json.dumps(config))
    pipe = HunyuanVideoFramepackPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    generator = load_hunyuan_generator(
        folder, prompt_encoder=tiny_prompt_embeddings, height=SIZE, width=SIZE, steps=3, window=3,
        distilled_guidance=GUIDANCE, device="cpu",
    )
    request = GenerationRequest(prompt="shifted", start_image=random_image(6), num_sections=1, seed=4)
    expected = diffusers_frames_with_steps(pipe, request, window=3, steps=3)
    assert np.abs(suite_frames(generator, request) - expected).max() <= 1e-4
    static = load_hunyuan_generator(
        tiny_folder, prompt_encoder=tiny_prompt_embeddings, height=SIZE, width=SIZE, steps=3, window=3,
        distilled_guidance=GUIDANCE, device="cpu",
    )
    assert np.abs(suite_frames(static, request) - expected).max() > 1e-4  # the shift really differs


def diffusers_frames_with_steps(pipe, request, window, steps):
    from PIL import Image

    text = tiny_prompt_embeddings(request.prompt)
    return pipe(
        image=Image.fromarray(request.start_image),
        prompt_embeds=text.prompt_embeds,
        prompt_attention_mask=text.prompt_attention_mask,
        pooled_prompt_embeds=text.pooled_prompt_embeds,
        height=SIZE,
        width=SIZE,
        num_frames=request.num_sections * ((window - 1) * 4 + 1),
        latent_window_size=window,
        num_inference_steps=steps,
        guidance_scale=GUIDANCE,
        generator=torch.Generator().manual_seed(request.seed),
        output_type="np",
    ).frames[0]


def test_adapter_maps_kernels_to_the_transformer_inputs_in_context_order():
    from framepack.hunyuan.diffusers_backend import pack_transformer_inputs
    from framepack.kernels import Kernel
    from framepack.packed_group import PackedGroup

    def group(frames, level, first):
        return PackedGroup(torch.full((1, 4, frames, 2, 2), float(first)), torch.arange(first, first + frames),
                           Kernel.from_level(level))

    inputs = pack_transformer_inputs(
        [group(1, 1, 0), group(16, 4, 20), group(2, 2, 18), group(1, 1, 10)], dtype=torch.float32, device="cpu"
    )
    assert inputs["indices_latents_clean"].tolist() == [0, 10]
    assert inputs["latents_clean"][0, 0, :, 0, 0].tolist() == [0.0, 10.0]
    assert inputs["indices_latents_history_2x"].tolist() == [18, 19]
    assert inputs["indices_latents_history_4x"].tolist() == list(range(20, 36))


def test_adapter_rejects_context_the_released_transformer_cannot_take():
    from framepack.hunyuan.diffusers_backend import UnsupportedContextError, pack_transformer_inputs
    from framepack.kernels import Kernel
    from framepack.packed_group import PackedGroup

    def group(level, timesteps=None):
        return PackedGroup(torch.zeros(1, 4, 1, 2, 2), torch.tensor([0]), Kernel.from_level(level), timesteps)

    full = [group(1), group(2), group(4)]
    with pytest.raises(UnsupportedContextError, match=r"kernel \(8, 16, 16\)"):
        pack_transformer_inputs([*full, group(8)], torch.float32, "cpu")
    with pytest.raises(UnsupportedContextError, match="noisy"):
        pack_transformer_inputs([group(1, torch.full((1, 1), 0.5)), group(2), group(4)], torch.float32, "cpu")
    with pytest.raises(UnsupportedContextError, match=r"no context group with kernel \(4, 8, 8\)"):
        pack_transformer_inputs(full[:2], torch.float32, "cpu")
