"""Lab backends on the lab perceptor: plumbing (random perceptor) and validity on rendered frames
with known degradations and breakages (the committed perceptor, held-out seeds)."""

import numpy as np
import pytest
import torch

from metrics import Evaluator
from metrics.lab.perceptor import LabPerceptorNet, PerceptorConfig, save_perceptor
from metrics.lab.perceptor_metrics import composition, default_checkpoint, subject_words
from metrics.registry import get_metric


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def random_perceptor(tmp_path):
    torch.manual_seed(0)
    return save_perceptor(LabPerceptorNet(PerceptorConfig()), tmp_path / "random.safetensors")


def test_subject_words_take_the_first_colour_shape_phrase_not_the_distractor():
    config = PerceptorConfig()
    prompt = ("a cyan triangle with a wide-set, slit-eyed, smiling face circles clockwise over a "
              "lavender-to-olive gradient, while a small yellow square floats behind it")
    assert subject_words(prompt, config.shapes, config.colours) == ("cyan", "triangle")
    assert subject_words("something red", config.shapes, config.colours) == ("red", None)


def test_composition_is_one_inside_and_falls_to_zero_at_the_edge():
    values = composition(np.array([[32.0, 32.0], [8.0, 32.0], [4.0, 32.0], [0.0, 32.0]]), 64, 64)
    np.testing.assert_allclose(values, [1.0, 1.0, 0.5, 0.0])


def test_colour_retention_is_relative_to_the_reference_and_capped_at_one():
    from metrics.lab.colourfulness import colour_retention

    rng = np.random.default_rng(0)
    colourful = np.repeat(np.repeat((rng.random((8, 8, 3)) * 255).astype(np.uint8), 8, 0), 8, 1)
    grey = colourful.mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
    half = (colourful.astype(float) * 0.5 + grey.astype(float) * 0.5).astype(np.uint8)
    values = colour_retention(np.stack([colourful, half, grey]), reference=colourful)
    assert values[0] == pytest.approx(1.0) and values[1] == pytest.approx(0.25, abs=0.03) and values[2] < 0.01
    assert colour_retention(np.stack([colourful]), reference=half)[0] == 1.0  # more colourful: capped
    assert colour_retention(np.stack([colourful]), reference=grey)[0] == 1.0  # colourless reference


def test_lab_backends_run_on_a_perceptor_checkpoint_and_version_with_its_hash(random_perceptor, tmp_path):
    frames = (np.random.default_rng(0).random((5, 64, 64, 3)) * 255).astype(np.uint8)
    names = ["clarity", "aesthetic", "semantic", "anatomy"]
    evaluator = Evaluator(names, "lab", options={n: {"checkpoint": str(random_perceptor)} for n in names},
                          on_error="raise")
    table = evaluator.evaluate(frames, prompt="a red circle drifts right")
    scores = table[table.kind == "video"].set_index("metric")["value"]
    assert set(scores.index) == set(names) and np.isfinite(scores).all()
    assert table["version"].str.contains("perceptor-").all()
    other = save_perceptor(LabPerceptorNet(PerceptorConfig()), tmp_path / "other.safetensors")
    assert (get_metric("clarity", "lab", checkpoint=str(other)).cache_version
            != get_metric("clarity", "lab", checkpoint=str(random_perceptor)).cache_version)


def test_lab_semantic_refuses_a_prompt_without_lab_attributes(random_perceptor):
    metric = get_metric("semantic", "lab", checkpoint=str(random_perceptor))
    with pytest.raises(ValueError, match="names no lab colour or shape"):
        metric(np.zeros((2, 64, 64, 3), np.uint8), prompt="a cat")


def test_missing_perceptor_checkpoint_is_unavailable_and_an_error_row(tmp_path):
    missing = tmp_path / "none.safetensors"
    metric = get_metric("clarity", "lab", checkpoint=str(missing))
    available, reason = metric.available()
    assert not available and str(missing) in reason
    table = Evaluator(["clarity"], "lab", options={"clarity": {"checkpoint": str(missing)}}).evaluate(
        np.zeros((2, 64, 64, 3), np.uint8))
    assert table["kind"].item() == "error" and "not found" in table["error"].item()


@pytest.fixture(scope="module")
def validity():
    if not default_checkpoint().is_file():
        pytest.skip(f"the committed lab perceptor is missing: {default_checkpoint()}")
    torch.set_num_threads(1)
    from bench.benchmarks.metrics_validity import validity_report

    return validity_report(clips=12)


@pytest.mark.parametrize("metric", ["clarity", "aesthetic"])
@pytest.mark.parametrize("kind", ["blur", "noise", "colour_shift"])
def test_clarity_and_aesthetic_rank_increasing_degradation(validity, metric, kind):
    assert validity["degradation"][metric][kind]["mean_spearman"] >= 0.9


def test_lab_identity_separates_same_from_different_subject(validity):
    assert validity["identity"]["auc_same_vs_different"] >= 0.95


def test_lab_semantic_reads_subject_attributes_of_clean_renders(validity):
    assert validity["semantic"]["attribute_accuracy"] >= 0.95
    assert validity["semantic"]["auc_true_vs_wrong_prompt"] >= 0.95


def test_lab_anatomy_separates_intact_from_broken_subjects(validity):
    assert validity["anatomy"]["auc_intact_vs_broken"] >= 0.9


def test_lab_metrics_on_one_video_share_one_perceptor_pass(random_perceptor, monkeypatch):
    from metrics.lab import perceptor_metrics

    monkeypatch.setattr(perceptor_metrics, "_PERCEPTIONS", perceptor_metrics.collections.OrderedDict())
    video = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    clarity = get_metric("clarity", "lab", checkpoint=str(random_perceptor))
    anatomy = get_metric("anatomy", "lab", checkpoint=str(random_perceptor))
    perceptor = clarity.perceptor()
    calls = []
    real_perceive = perceptor.perceive
    monkeypatch.setattr(perceptor, "perceive", lambda frames: calls.append(1) or real_perceive(frames))
    first = clarity(video, "a red circle", None)
    anatomy(video, "a red circle", None)
    assert len(calls) == 1  # the second metric reused the first one's reading
    again = clarity(video.copy(), "a red circle", None)  # same content, another array
    assert len(calls) == 1 and np.array_equal(first.values, again.values)
    changed = video.copy()
    changed[0, 0, 0, 0] ^= 1
    clarity(changed, "a red circle", None)
    assert len(calls) == 2  # one changed byte is a new video
    with pytest.raises(ValueError):
        clarity.perceive(video).degradation[0] = 0.0  # shared readings are read-only


def test_lab_metrics_analyse_any_video_at_the_lab_worlds_frame_size(random_perceptor, monkeypatch):
    """The cost of a lab metric per frame is bounded: every lab backend sees 64×64 frames (and
    reference), however large the input."""
    from metrics.lab.perceptor_metrics import PerceptorMetric
    from metrics.metric import per_frame_result
    from metrics.registry import metric_classes

    seen = []

    def spy(self, frames, prompt, reference, fps):
        seen.append((self.name, frames.shape, None if reference is None else reference.shape))
        return per_frame_result(np.zeros(len(frames)))

    lab = [cls for cls in metric_classes() if cls.backend == "lab"]
    huge = np.zeros((3, 1200, 2000, 3), np.uint8)
    for cls in lab:
        monkeypatch.setattr(cls, "measure", spy)
        metric = cls(checkpoint=str(random_perceptor)) if issubclass(cls, PerceptorMetric) else cls()
        metric(huge, "a red circle", huge[0])
    assert len(seen) == len(lab) >= 5
    assert all((frames, reference) == ((3, 64, 64, 3), (64, 64, 3)) for _, frames, reference in seen)


def test_a_lab_score_of_an_enlarged_video_equals_the_score_of_the_original(random_perceptor):
    video = np.random.default_rng(1).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    enlarged = np.kron(video, np.ones((1, 8, 8, 1), np.uint8))  # 512×512, each pixel an 8×8 block
    for name in ("clarity", "aesthetic", "anatomy"):
        metric = get_metric(name, "lab", checkpoint=str(random_perceptor))
        assert metric(enlarged, "a red circle", None).score == metric(video, "a red circle", None).score
