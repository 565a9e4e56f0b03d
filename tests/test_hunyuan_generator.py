"""The full-scale generator loads from a local diffusers-layout folder, names every missing file,
honours the offloading options and keeps a bounded history (tiny random weights, offline)."""

from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import pytest
import torch

from framepack.generator import GenerationRequest, Generator, MemorySink
from framepack.hunyuan.generator import PromptEmbeddings, load_hunyuan_generator, with_options
from framepack.hunyuan.tiny import build_tiny_hunyuan_components, save_tiny_hunyuan_folder
from framepack.hunyuan.weights import MissingWeightsError, check_weights_folder

pytestmark = pytest.mark.full_scale

SIZE = 16


def tiny_prompt_embeddings(prompt: str) -> PromptEmbeddings:
    generator = torch.Generator().manual_seed(zlib.crc32(prompt.encode()))
    return PromptEmbeddings(
        prompt_embeds=torch.randn(1, 5, 16, generator=generator),
        prompt_attention_mask=torch.ones(1, 5),
        pooled_prompt_embeds=torch.randn(1, 8, generator=generator),
    )


def load(folder, **options):
    defaults = {"height": SIZE, "width": SIZE, "steps": 2, "window": 2, "device": "cpu"}
    return load_hunyuan_generator(folder, prompt_encoder=tiny_prompt_embeddings, **{**defaults, **options})


def request(num_sections=2, **fields):
    image = np.random.default_rng(5).integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
    return GenerationRequest(prompt="a blue square", start_image=image, num_sections=num_sections, seed=1, **fields)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_hunyuan_folder(build_tiny_hunyuan_components(seed=0), tmp_path_factory.mktemp("tiny_weights"))


@pytest.fixture(scope="module")
def generator(tiny_folder):
    return load(tiny_folder)


@pytest.fixture
def broken_folder(tiny_folder, tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(tiny_folder, copy)
    return copy


def test_loaded_generator_is_a_generator_named_by_its_released_schedule(generator):
    assert isinstance(generator, Generator)
    assert generator.name == "hunyuan:f1k1_x_g2_f1k1f2k2f16k4_td"
    assert with_options(generator, order="vanilla").name == "hunyuan:f1k1_x_f16k4f2k2f1k1_g2"


def test_generate_writes_every_frame_of_the_video_to_the_sink(generator):
    sink = MemorySink()
    generator.generate(request(num_sections=3), sink)
    frames = sink.frames()
    assert frames.shape == (4 * 2 * 3 + 1, SIZE, SIZE, 3) and frames.dtype == np.uint8


def test_progress_reports_every_section_and_step(generator):
    events = []
    generator.generate(request(num_sections=2, on_progress=events.append), MemorySink())
    sections = [(e.done, e.total) for e in events if e.kind == "section"]
    steps = [e for e in events if e.kind == "step"]
    assert sections == [(1, 2), (2, 2)]
    assert len(steps) == 2 * 2 and {e.total for e in steps} == {2}


@pytest.mark.slow
@pytest.mark.parametrize("order", ["inverted_anti_drifting", "vanilla"])
def test_history_stays_bounded_however_long_the_video(generator, order):
    peaks = []
    for sections in (6, 8):  # 24 and 32 latent frames: more than the 19 history frames a section reads
        generator_for_order = with_options(generator, order=order, window=4, steps=1)
        generator_for_order.generate(request(num_sections=sections), MemorySink())
        peaks.append(generator_for_order.peak_history_frames)
    assert peaks[0] == peaks[1] <= 1 + 19 + 4  # start frame + 19 history frames + the section just made


def test_model_cpu_offload_gives_the_same_frames(tiny_folder, generator):
    expected = MemorySink()
    generator.generate(request(), expected)
    offloaded = load(tiny_folder, offload="model", vae_tiling=True)
    assert offloaded.pipeline._offload_device == torch.device("cpu", 0)
    assert offloaded.pipeline.vae.use_tiling
    actual = MemorySink()
    offloaded.generate(request(), actual)
    np.testing.assert_array_equal(actual.frames(), expected.frames())


def test_sequential_offload_hooks_every_model(tiny_folder):
    # Running it needs an accelerator: on the CPU, accelerate cannot reload transformers 5 models'
    # meta-device weights, so this checks the layer hooks only.
    offloaded = load(tiny_folder, offload="sequential")
    pipe = offloaded.pipeline
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2", "image_encoder"):
        assert hasattr(getattr(pipe, name), "_hf_hook"), name


def test_missing_folder_names_every_component(tmp_path):
    with pytest.raises(MissingWeightsError) as error:
        check_weights_folder(tmp_path / "nowhere")
    message = str(error.value)
    for component in ("transformer", "vae", "scheduler", "text_encoder", "text_encoder_2", "tokenizer",
                      "tokenizer_2", "image_encoder", "feature_extractor"):
        assert f"  {component}: download from" in message
    assert "lllyasviel/FramePackI2V_HY" in message


def test_missing_files_are_listed_with_where_they_go_and_where_they_come_from(broken_folder):
    (broken_folder / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(broken_folder / "feature_extractor")
    with pytest.raises(MissingWeightsError) as error:
        load_hunyuan_generator(broken_folder, prompt_encoder=tiny_prompt_embeddings, order="vanilla", device="cpu")
    message = str(error.value)
    assert f"missing {broken_folder / 'transformer' / 'diffusion_pytorch_model.safetensors'} or" in message
    assert "FramePack_F1_I2V_HY_20250503" in message  # the vanilla order's transformer
    assert f"missing {broken_folder / 'feature_extractor' / 'preprocessor_config.json'}" in message
    assert "lllyasviel/flux_redux_bfl, subfolder feature_extractor/" in message
    assert set(error.value.missing) == {"transformer", "feature_extractor"}
    assert isinstance(error.value, FileNotFoundError)  # the CLI prints it without a traceback


def test_tokenizers_are_required_without_a_prompt_encoder(broken_folder):
    shutil.rmtree(broken_folder / "tokenizer")
    (broken_folder / "tokenizer_2" / "tokenizer.json").unlink()
    load_hunyuan_generator(broken_folder, prompt_encoder=tiny_prompt_embeddings, device="cpu")  # not needed here
    with pytest.raises(MissingWeightsError) as error:
        load_hunyuan_generator(broken_folder, device="cpu")
    assert set(error.value.missing) == {"tokenizer", "tokenizer_2"}
    assert "tokenizer_2/tokenizer.json or tokenizer_2/vocab.json+merges.txt" in str(error.value)


def test_cli_generates_an_mp4_with_the_hunyuan_backend(tiny_folder, tmp_path):
    import cv2

    from bench.cli import main
    from bench.video_io import read_video

    image = tmp_path / "start.png"
    cv2.imwrite(str(image), np.full((24, 20, 3), 200, dtype=np.uint8))
    out = tmp_path / "video.mp4"
    argv = ["generate", "--backend", "hunyuan", "--weights", str(tiny_folder), "--image", str(image),
            "--image-prompt", "a red ball bounces", "--size", "16", "16", "--steps", "1", "--device", "cpu",
            "--sections", "1", "--out", str(out)]
    assert main(argv) == 0
    assert read_video(out).shape == (4 * 9 + 1, 16, 16, 3)


def test_cli_lists_missing_weights_without_a_traceback(tmp_path, capsys):
    from bench.cli import main

    image = tmp_path / "start.png"
    image.write_bytes(b"")
    argv = ["generate", "--backend", "hunyuan", "--weights", str(tmp_path / "weights"), "--image", str(image),
            "--out", str(tmp_path / "video.mp4")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "transformer: download from lllyasviel/FramePackI2V_HY" in error and "Traceback" not in error


def test_a_missing_weight_shard_is_named(broken_folder):
    index = {"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                            "b.weight": "model-00002-of-00002.safetensors"}}
    encoder = broken_folder / "image_encoder"
    (encoder / "model.safetensors").unlink()
    (encoder / "model.safetensors.index.json").write_text(json.dumps(index))
    (encoder / "model-00001-of-00002.safetensors").write_bytes(b"")
    with pytest.raises(MissingWeightsError) as error:
        check_weights_folder(broken_folder, with_tokenizers=False)
    assert error.value.missing == {"image_encoder": ["image_encoder/model-00002-of-00002.safetensors"]}


def test_bad_options_are_rejected_with_the_value(tiny_folder):
    with pytest.raises(ValueError, match="multiples of 16"):
        load(tiny_folder, height=20)
    with pytest.raises(ValueError, match="offload"):
        load(tiny_folder, offload="disk")
    with pytest.raises(ValueError, match="order"):
        load(tiny_folder, order="anti_drifting")


def test_grid_rows_of_kind_hunyuan_validate_name_and_build(tiny_folder, tmp_path):
    from bench.grid.errors import GridError
    from bench.grid.full_scale_rows import HUNYUAN
    from bench.grid.spec import RowSpec

    params = {"weights": str(tiny_folder), "order": "vanilla", "height": SIZE, "width": SIZE, "device": "cpu"}
    row = RowSpec(kind="hunyuan", index=3, kind_field="generator", params=params)
    HUNYUAN.validate(row)
    assert HUNYUAN.display_name(row) == "hunyuan:f1k1_x_f16k4f2k2f1k1_g9"
    assert isinstance(HUNYUAN.build(row), Generator)
    with pytest.raises(GridError, match=r"rows\[3\]\.params.*unknown hunyuan options \['stepz'\]"):
        HUNYUAN.validate(RowSpec(kind="hunyuan", index=3, params={**params, "stepz": 2}))
    with pytest.raises(MissingWeightsError):
        HUNYUAN.validate(RowSpec(kind="hunyuan", index=3, params={**params, "weights": str(tmp_path)}))
