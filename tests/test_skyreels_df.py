"""The SkyReels-V2 diffusion-forcing generator gives the frames of diffusers' pipeline called directly,
names every missing weight file, and validates its options (tiny random weights, offline)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from baselines.skyreels_df import (
    SkyReelsOptions,
    check_skyreels_folder,
    frames_of,
    load_skyreels_df,
    pipeline_frames,
)
from baselines.skyreels_df_tiny import (
    build_tiny_skyreels_components,
    save_tiny_skyreels_folder,
    tiny_skyreels_prompt_encoder,
)
from framepack.generator import GenerationRequest, MemorySink
from framepack.hunyuan.weights import MissingWeightsError

pytestmark = pytest.mark.full_scale

SIZE = 32
STEPS = 3
# Short windows so a 3-section video needs the long-video loop: 17-frame windows, 5 frames of history.
WINDOW = {"frames_per_section": 8, "base_num_frames": 17, "overlap_history": 5}


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_skyreels_folder(build_tiny_skyreels_components(seed=0), tmp_path_factory.mktemp("skyreels"))


@pytest.fixture(scope="module")
def generator(tiny_folder):
    return load_skyreels_df(tiny_folder, prompt_encoder=tiny_skyreels_prompt_encoder, height=SIZE, width=SIZE,
                            steps=STEPS, device="cpu", **WINDOW)


def pipeline_output(folder, request: GenerationRequest, frames: int, flow_shift: float, guidance: float, **options):
    """diffusers' own pipeline, called directly with the same inputs and seed."""
    from diffusers import (
        SkyReelsV2DiffusionForcingImageToVideoPipeline,
        SkyReelsV2DiffusionForcingPipeline,
        UniPCMultistepScheduler,
    )
    from PIL import Image

    image_to_video = request.start_image is not None
    cls = SkyReelsV2DiffusionForcingImageToVideoPipeline if image_to_video else SkyReelsV2DiffusionForcingPipeline
    pipe = cls.from_pretrained(folder, tokenizer=None)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)
    inputs = {}
    if image_to_video:
        inputs["image"] = Image.fromarray(request.start_image)
        if request.end_image is not None:
            inputs["last_image"] = Image.fromarray(request.end_image)
    else:
        inputs["prompt"] = None
    torch.manual_seed(request.seed)  # addnoise_condition's noise comes from the global stream
    return pipe(
        prompt_embeds=tiny_skyreels_prompt_encoder(request.prompt),
        negative_prompt_embeds=tiny_skyreels_prompt_encoder(""),
        height=SIZE, width=SIZE, num_frames=frames, num_inference_steps=STEPS, guidance_scale=guidance,
        generator=torch.Generator().manual_seed(request.seed), output_type="np",
        base_num_frames=WINDOW["base_num_frames"], overlap_history=WINDOW["overlap_history"],
        addnoise_condition=options.get("addnoise_condition", 20.0), ar_step=options.get("ar_step", 0),
        causal_block_size=options.get("causal_block_size"), fps=24, **inputs,
    ).frames[0]


@pytest.mark.parametrize(
    ("mode", "sections", "options"),
    [
        ("i2v", 3, {}),  # two windows: the second conditioned on noised history
        ("i2v", 2, {"addnoise_condition": 0.0}),  # clean history
        ("i2v_end", 2, {}),  # first and last frame (one window)
        ("t2v", 3, {}),
        ("i2v", 1, {"ar_step": 1, "causal_block_size": 1}),  # asynchronous diffusion forcing in one window
    ],
)
def test_suite_frames_equal_the_diffusers_pipeline(tiny_folder, generator, mode, sections, options):
    from dataclasses import replace

    request = GenerationRequest(
        prompt="a red ball bounces", start_image=None if mode == "t2v" else image(1),
        end_image=image(2) if mode == "i2v_end" else None, num_sections=sections, seed=5,
    )
    generator.options = replace(generator.options, **options)
    try:
        actual = frames_of(generator, request)
    finally:
        generator.options = replace(generator.options, addnoise_condition=20.0, ar_step=0, causal_block_size=None)
    wanted = WINDOW["frames_per_section"] * sections + 1
    frames = pipeline_frames(wanted, WINDOW["base_num_frames"], WINDOW["overlap_history"])
    mode_key = "t2v" if mode == "t2v" else "i2v"
    expected = pipeline_output(tiny_folder, request, frames, flow_shift={"i2v": 5.0, "t2v": 8.0}[mode_key],
                               guidance={"i2v": 5.0, "t2v": 6.0}[mode_key], **options)
    assert actual.shape == (wanted, SIZE, SIZE, 3)
    assert np.abs(actual - expected[:wanted]).max() <= 1e-5


def test_an_end_image_beyond_one_window_is_refused(generator):
    request = GenerationRequest(prompt="p", start_image=image(1), end_image=image(2), num_sections=3)
    with pytest.raises(ValueError, match="one window"):
        frames_of(generator, request)


def test_lengths_the_pipeline_cannot_make_are_generated_longer_and_cut():
    # 17-frame windows with 5 frames of history advance 12 frames: 29 and 41 fill the last window.
    assert [pipeline_frames(n, 17, 5) for n in (17, 21, 25, 29, 33)] == [17, 29, 29, 29, 41]
    assert pipeline_frames(36 * 12 + 1, 97, 17) == 497


def test_same_seed_same_frames_other_seed_other_frames(generator):
    def run(seed):
        sink = MemorySink()
        generator.generate(GenerationRequest(prompt="p", start_image=image(3), num_sections=1, seed=seed), sink)
        return sink.frames()

    first = run(0)
    assert first.dtype == np.uint8 and first.shape == (9, SIZE, SIZE, 3)
    np.testing.assert_array_equal(first, run(0))
    assert np.abs(first.astype(int) - run(1).astype(int)).max() > 0


def test_a_cache_skips_blocks_of_the_diffusion_forcing_transformer(tiny_folder):
    cached = load_skyreels_df(tiny_folder, prompt_encoder=tiny_skyreels_prompt_encoder, height=SIZE, width=SIZE,
                              steps=6, device="cpu", cache={"kind": "faster"}, **WINDOW)
    plain = load_skyreels_df(tiny_folder, prompt_encoder=tiny_skyreels_prompt_encoder, height=SIZE, width=SIZE,
                             steps=6, device="cpu", **WINDOW)
    request = GenerationRequest(prompt="p", start_image=image(3), num_sections=1, seed=0)
    difference = np.abs(frames_of(cached, request) - frames_of(plain, request)).max()
    # FasterCache reuses attention outputs: fewer Linear layers run, the same number of network calls.
    assert cached.last_compute["linear_calls"] < plain.last_compute["linear_calls"]
    assert cached.last_compute["network_evaluations"] == plain.last_compute["network_evaluations"] == 12
    assert cached.last_compute["cache"] == "faster" and plain.last_compute["cache"] is None
    assert 0 < difference <= 0.25


def test_missing_folder_names_every_file_and_its_source(tiny_folder, tmp_path):
    with pytest.raises(MissingWeightsError) as error:
        check_skyreels_folder(tmp_path / "nowhere")
    message = str(error.value)
    for part in ("transformer/", "vae/", "scheduler/", "text_encoder/", "tokenizer/",
                 "Skywork/SkyReels-V2-DF-14B-540P-Diffusers"):
        assert part in message
    copy = tmp_path / "weights"
    shutil.copytree(tiny_folder, copy)
    (copy / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(MissingWeightsError) as error:
        check_skyreels_folder(copy, with_tokenizer=False)
    assert set(error.value.missing) == {"vae"}
    assert "vae/diffusion_pytorch_model.safetensors" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("overlap_history", 97, "below base_num_frames"),
        ("base_num_frames", 96, "4k \\+ 1"),
        ("addnoise_condition", -1, "addnoise_condition"),
        ("frames_per_section", 10, "multiple of 4"),
        ("cache", {"kind": "tea"}, "cache kind"),
        ("cache", {"kind": "first_block"}, "does not work on the SkyReels"),
    ],
)
def test_options_reject_bad_values_naming_them(field, value, match):
    with pytest.raises(ValueError, match=match):
        SkyReelsOptions(**{field: value})


def test_cli_backend_skyreels_df_names_the_missing_files_without_a_traceback(tmp_path, capsys):
    from bench.cli import main

    code = main(["generate", "--backend", "skyreels-df", "--weights", str(tmp_path / "none"), "--prompt", "a cat",
                 "--out", str(tmp_path / "video.mp4"), "--cache", "faster:spatial_attention_block_skip_range=3"])
    error = capsys.readouterr().err
    assert code != 0
    assert "SkyReels-V2 diffusion-forcing weights incomplete" in error and "transformer/config.json" in error
    assert "Traceback" not in error
    assert not (tmp_path / "video.mp4").exists()


def test_cli_cache_option_becomes_the_cache_param():
    from bench.cli.generate import parse_cache

    assert parse_cache("first_block:threshold=0.05") == {"kind": "first_block", "threshold": 0.05}
    assert parse_cache("mag:calibrate=true,max_skip_steps=2") == {"kind": "mag", "calibrate": True, "max_skip_steps": 2}
    with pytest.raises(ValueError, match="without '='"):
        parse_cache("mag:calibrate")
