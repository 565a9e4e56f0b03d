"""Classical backends: DIS-flow motion smoothness and dynamic degree (VBench rules), NIQE / PIQE."""

import glob
import importlib.util
import os

import cv2
import numpy as np
import pytest

from metrics.classical.iqa import ClarityNIQE, ClarityPIQE
from metrics.motion_rules import dynamic_count_needed, dynamic_threshold, frame_stride, is_dynamic
from metrics.registry import get_metric


@pytest.fixture(autouse=True)
def one_thread():
    # The CI box has 2 shared cores; torch's thread pool thrashes under contention.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def texture(height, width, seed=0):
    coarse = np.random.default_rng(seed).random((height // 4, width // 4, 3)).astype(np.float32)
    return (cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def panning(frames=16, size=64, step=3.0):
    wide = texture(size, size + int(step * frames) + 8)
    shifted = [cv2.warpAffine(wide, np.float32([[1, 0, -step * t], [0, 1, 0]]), (wide.shape[1], size),
                              borderMode=cv2.BORDER_REFLECT)[:, :size] for t in range(frames)]
    return np.stack(shifted)


def static(frames=16, size=64):
    return np.repeat(texture(size, size)[None], frames, axis=0)


def jittering(frames=16, size=64, amplitude=4):
    rng = np.random.default_rng(1)
    big = texture(size + 20, size + 20)
    crops = []
    for _ in range(frames):
        dx, dy = rng.integers(-amplitude, amplitude + 1, 2)
        crops.append(big[10 + dy:10 + dy + size, 10 + dx:10 + dx + size])
    return np.stack(crops)


def test_static_video_is_smooth_and_not_dynamic():
    video = static()
    assert get_metric("motion", "classical")(video).score > 0.999
    dynamic = get_metric("dynamic", "classical")(video)
    assert dynamic.score == 0.0 and dynamic.values.max() < 0.1


def test_panning_video_is_dynamic_and_smooth():
    video = panning(step=3.0)
    dynamic = get_metric("dynamic", "classical")(video)
    assert dynamic.score == 1.0
    # DIS recovers the 2 x 3 px displacement between sampled frames (16 fps -> every 2nd frame).
    assert np.median(dynamic.values) == pytest.approx(6.0, abs=1.0)
    assert get_metric("motion", "classical")(video).score > 0.97


def test_jittering_video_is_less_smooth_than_panning():
    motion = get_metric("motion", "classical")
    assert motion(jittering()).score < motion(panning()).score - 0.05


def test_dynamic_rule_matches_vbench_thresholds():
    assert dynamic_threshold(64, 64, 16) == pytest.approx(1.5)
    assert dynamic_threshold(480, 832, 16) == pytest.approx(6 * 480 / 256)
    assert dynamic_threshold(256, 256, 4) == pytest.approx(12.0)  # low fps doubles it
    assert frame_stride(16) == 2 and frame_stride(30) == 4 and frame_stride(8) == 1
    assert dynamic_count_needed(16) == 4 and dynamic_count_needed(8) == 2
    assert not is_dynamic(np.array([2.0, 2.0, 1.0]), threshold=1.5, count_needed=3)
    assert is_dynamic(np.array([2.0, 2.0, 1.6]), threshold=1.5, count_needed=3)


def test_slow_pan_below_threshold_is_not_dynamic():
    # 0.25 px per frame -> 0.5 px per sampled pair, below 1.5 px at 64x64.
    assert get_metric("dynamic", "classical")(panning(step=0.25)).score == 0.0


# pyiqa's wheel installs its calibration images beside the package, in site-packages/ResultsCalibra.
_PYIQA = importlib.util.find_spec("pyiqa")
_SITE = os.path.dirname(os.path.dirname(_PYIQA.origin)) if _PYIQA else ""
CALIBRATION = glob.glob(os.path.join(_SITE, "ResultsCalibra", "dist_dir", "*.bmp"))
# pyiqa's published values on its sample images (IQA-PyTorch ResultsCalibra/calibration_summary.csv).
NIQE_PUBLISHED = {"I03": 15.6538, "I04": 3.6549, "I06": 3.2342, "I08": 3.1921, "I19": 9.0722}
PIQE_PUBLISHED = {"I03": 100.0, "I04": 21.6242, "I06": 35.8646, "I08": 41.147, "I19": 76.9485}


def calibration_images():
    if not CALIBRATION:
        pytest.skip("pyiqa's ResultsCalibra sample images are not installed (pyiqa wheel ships them)")
    paths = sorted(CALIBRATION)
    names = [os.path.basename(p)[:3] for p in paths]
    return names, np.stack([cv2.imread(p)[:, :, ::-1].copy() for p in paths])


def test_niqe_reproduces_pyiqa_published_calibration_values():
    metric = ClarityNIQE()
    available, reason = metric.available()
    assert available, reason  # make setup installs the parameters; unavailable must be loud
    names, images = calibration_images()
    values = metric(images).values
    for name, value in zip(names, values, strict=True):
        assert value == pytest.approx(NIQE_PUBLISHED[name], abs=0.02), name


def test_piqe_reproduces_pyiqa_published_calibration_values():
    names, images = calibration_images()
    values = ClarityPIQE()(images).values
    for name, value in zip(names, values, strict=True):
        assert value == pytest.approx(PIQE_PUBLISHED[name], abs=0.01), name


def test_niqe_without_parameters_is_unavailable_and_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FPBENCH_DATA", str(tmp_path))
    metric = ClarityNIQE()
    available, reason = metric.available()
    assert not available and "niqe_pris_params.npz" in reason and "basicsr" in reason
    with pytest.raises(FileNotFoundError, match="niqe_pris_params.npz"):
        metric(static(4))


def test_niqe_and_piqe_score_strong_noise_and_blur_worse_at_64px():
    references = sorted(glob.glob(os.path.join(os.path.dirname(CALIBRATION[0]) if CALIBRATION else "",
                                               "..", "ref_dir", "*.bmp")))
    if not references:
        pytest.skip("pyiqa's ResultsCalibra reference images are not installed")
    rng = np.random.default_rng(0)
    for path in references:
        image = cv2.resize(cv2.imread(path)[:, :, ::-1], (85, 64), interpolation=cv2.INTER_AREA)[:, :64].copy()
        noisy = np.clip(image + rng.normal(0, 50, image.shape), 0, 255).astype(np.uint8)
        blurred = cv2.GaussianBlur(image, (0, 0), 2)
        frames = np.stack([image, noisy, blurred])
        for metric in (ClarityPIQE(), ClarityNIQE()):
            clean, worse_noise, worse_blur = metric(frames).values
            assert worse_noise > clean and worse_blur > clean, (metric.name, path)


def test_motion_and_dynamic_compute_each_frame_pairs_flow_once_with_the_same_scores(monkeypatch):
    from metrics.classical import optical_flow

    video = panning(frames=17)
    monkeypatch.setattr(optical_flow, "_FLOWS", optical_flow.collections.OrderedDict())
    motion, dynamic = get_metric("motion", "classical"), get_metric("dynamic", "classical")
    created = []
    real_create = cv2.DISOpticalFlow_create
    monkeypatch.setattr(optical_flow.cv2, "DISOpticalFlow_create", lambda *a: created.append(1) or real_create(*a))
    shared = (motion(video, "", None, 16.0).score, dynamic(video, "", None, 16.0).details["pairs_above"])
    # 8 triplets need 8 forward (2k -> 2k+2) and 8 backward flows; dynamic's 8 pairs at stride 2
    # are the forward ones
    assert len(created) == 16
    monkeypatch.setattr(optical_flow, "_FLOWS", optical_flow.collections.OrderedDict())
    separate = [motion(video, "", None, 16.0).score]
    monkeypatch.setattr(optical_flow, "_FLOWS", optical_flow.collections.OrderedDict())
    separate.append(dynamic(video, "", None, 16.0).details["pairs_above"])
    assert shared == tuple(separate)
    assert not optical_flow.dis_flow(video[0], video[2]).flags.writeable
