"""Full-scale repeated image-to-video over diffusers' HunyuanVideoImageToVideoPipeline (tiny random weights)."""

import numpy as np
import pytest
import torch

from baselines.hunyuan_i2v_tiny import build_tiny_i2v_pipeline, tiny_prompt_encoder
from baselines.repeated_i2v_diffusers import (
    ImageToVideoOptions,
    load_repeated_i2v_diffusers,
    repeated_i2v_diffusers,
)
from framepack.generator import GenerationRequest, Generator, MemorySink

pytestmark = pytest.mark.full_scale

OPTIONS = ImageToVideoOptions(height=32, width=32, latent_frames=2, steps=2)


class CallRecorder:
    """Wraps the pipeline and records the image of every call."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.transformer = pipeline.transformer
        self._execution_device = pipeline._execution_device
        self.images = []

    def __call__(self, image, **kwargs):
        self.images.append(np.asarray(image).copy())
        return self.pipeline(image=image, **kwargs)


@pytest.fixture(scope="module")
def pipeline():
    return build_tiny_i2v_pipeline(seed=0)


def start_image():
    return np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def test_each_run_starts_from_the_previous_runs_last_frame(pipeline):
    recorder = CallRecorder(pipeline)
    generator = repeated_i2v_diffusers(recorder, OPTIONS, tiny_prompt_encoder)
    assert isinstance(generator, Generator)
    events = []
    sink = MemorySink()
    generator.generate(GenerationRequest("a red ball", start_image=start_image(), num_sections=3, seed=2,
                                         on_progress=events.append), sink)
    video = sink.frames()
    new_per_run = 4 * (OPTIONS.latent_frames - 1)
    assert video.shape == (1 + 3 * new_per_run, 32, 32, 3)
    assert np.array_equal(video[0], start_image())
    assert len(recorder.images) == 3
    for run, image in enumerate(recorder.images):
        assert np.array_equal(image, video[run * new_per_run])  # run k starts from frame k·4(L−1)
    assert [e.done for e in events if e.kind == "section"] == [1, 2, 3]
    assert len([e for e in events if e.kind == "step"]) == 3 * OPTIONS.steps


def test_a_run_equals_a_direct_pipeline_call(pipeline):
    generator = repeated_i2v_diffusers(pipeline, OPTIONS, tiny_prompt_encoder)
    sink = MemorySink()
    generator.generate(GenerationRequest("a red ball", start_image=start_image(), num_sections=1, seed=5), sink)
    embeddings = tiny_prompt_encoder("a red ball")
    import PIL.Image

    direct = pipeline(
        image=PIL.Image.fromarray(start_image()), height=32, width=32, num_frames=OPTIONS.pixel_frames,
        num_inference_steps=OPTIONS.steps, guidance_scale=OPTIONS.guidance_scale, output_type="np",
        generator=torch.Generator().manual_seed(generator.run_seed(5, 0)),
        prompt_embeds=embeddings.prompt_embeds, prompt_attention_mask=embeddings.prompt_attention_mask,
        pooled_prompt_embeds=embeddings.pooled_prompt_embeds,
    ).frames[0]
    expected = (direct[1:] * 255.0).round().clip(0, 255).astype(np.uint8)
    assert np.array_equal(sink.frames()[1:], expected)


def test_missing_weights_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        load_repeated_i2v_diffusers(tmp_path / "HunyuanVideo-I2V")


def test_bad_requests_and_options_are_named(pipeline):
    generator = repeated_i2v_diffusers(pipeline, OPTIONS, tiny_prompt_encoder)
    with pytest.raises(ValueError, match="start image"):
        generator.generate(GenerationRequest("a red ball", num_sections=1), MemorySink())
    with pytest.raises(ValueError, match="end image"):
        generator.generate(GenerationRequest("x", start_image=start_image(), end_image=start_image()), MemorySink())
    with pytest.raises(ValueError, match="multiples of 16"):
        ImageToVideoOptions(height=30)
