"""Paper backends: loading code exercised with randomly initialised weights saved in the real formats
at the paths the resolver expects (TORCH_HOME / HF_HOME / insightface root point at tmp folders),
and missing-weights errors that name the file, its source and where it goes."""


import numpy as np
import pytest
import torch

from metrics import Evaluator
from metrics.registry import get_metric
from metrics.tensors import resize_longer_side
from metrics.weights import MissingWeightsError, WeightsResolver

pytestmark = pytest.mark.usefixtures("isolated_weight_roots")


def save_at_expected(key, obj):
    path = WeightsResolver().expected_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def video(frames=4, size=64, seed=0):
    return (np.random.default_rng(seed).random((frames, size, size, 3)) * 255).astype(np.uint8)


PAPER_METRICS = {
    "clarity": "musiq_spaq_ckpt-358bb6af.pth",
    "aesthetic": "open_clip_pytorch_model.bin",
    "semantic": "open_clip_pytorch_model.bin",
    "dynamic": "raft_large_C_T_V2-1bb1363a.pth",
    "motion": "frame_interpolator.pt",
    "anatomy": "anatomy_detector.pt",
    "identity": "det_10g.onnx",
}


@pytest.mark.parametrize("name", sorted(PAPER_METRICS))
def test_missing_weights_error_names_file_source_and_target(name, tmp_path):
    metric = get_metric(name, "paper")
    available, reason = metric.available()
    assert not available and PAPER_METRICS[name] in reason
    with pytest.raises(MissingWeightsError) as info:
        metric(video(), prompt="a red circle")
    message = str(info.value)
    assert PAPER_METRICS[name] in message and "Source:" in message and str(tmp_path) in message
    assert isinstance(info.value, FileNotFoundError)


def test_missing_weights_in_a_grid_is_an_error_row_never_a_value():
    table = Evaluator(["clarity", "dynamic"], "paper").evaluate(video(), "a prompt", video="v")
    assert list(table["kind"]) == ["error", "error"]
    assert table["value"].isna().all() and table["error"].str.contains("never downloaded").all()


def test_weights_dir_is_searched_first(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "raft_small_C_T_V2-01064c6d.pth").write_bytes(b"x")
    assert WeightsResolver(folder).find("raft_small") == folder / "raft_small_C_T_V2-01064c6d.pth"
    assert WeightsResolver().find("raft_small") is None
    rows = {r["key"]: r for r in WeightsResolver(folder).status()}
    assert rows["raft_small"]["present"] and not rows["raft_large"]["present"]


def test_musiq_spaq_loads_a_random_checkpoint_and_scores_per_frame():
    from pyiqa.archs.musiq_arch import MUSIQ

    save_at_expected("musiq_spaq", MUSIQ(pretrained=False, num_class=1).state_dict())
    metric = get_metric("clarity", "paper")
    assert metric.available() == (True, "")
    result = metric(video(2, 32))
    assert result.index_kind == "frame" and result.values.shape == (2,) and np.isfinite(result.values).all()
    direct = metric.model()(torch.from_numpy(video(2, 32)[:1]).permute(0, 3, 1, 2).float() / 255).item() / 100
    assert result.values[0] == pytest.approx(direct, rel=1e-5)


def test_vbench_resizing_caps_the_longer_side_at_512():
    frames = np.zeros((1, 300, 1024, 3), np.uint8)
    assert resize_longer_side(frames, 512).shape == (1, 150, 512, 3)
    assert resize_longer_side(frames[:, :64, :64], 512).shape == (1, 64, 64, 3)


def test_laion_aesthetic_linear_and_mlp_heads_load_and_follow_the_vbench_formula(tiny_clip):
    from torch import nn

    from metrics.paper.clip_metrics import clip_preprocess, laion_mlp_head, load_clip

    linear = nn.Linear(768, 1)
    save_at_expected("laion_linear_head", linear.state_dict())
    mlp = laion_mlp_head(768)
    save_at_expected("laion_mlp_head", mlp.state_dict())
    frames = video(3, 48)
    aesthetic = get_metric("aesthetic", "paper", clip_model=tiny_clip)
    assert aesthetic.available() == (True, "")
    result = aesthetic(frames)
    model, _ = load_clip(tiny_clip, str(WeightsResolver().require("clip_vit_l14")))
    with torch.no_grad():
        embedding = torch.nn.functional.normalize(model.encode_image(clip_preprocess(frames)), dim=-1)
        expected = (linear(embedding).reshape(-1) / 10).numpy()
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-6)
    with_mlp = get_metric("aesthetic", "paper", clip_model=tiny_clip, head="mlp")
    assert with_mlp.cache_version != aesthetic.cache_version
    assert with_mlp(frames).values.shape == (3,)


def test_semantic_clip_scores_cosine_per_frame_and_refuses_an_empty_prompt(tiny_clip):
    semantic = get_metric("semantic", "paper", clip_model=tiny_clip)
    result = semantic(video(3, 48), prompt="a red circle drifts left")
    assert result.values.shape == (3,) and np.all(np.abs(result.values) <= 1.0 + 1e-6)
    with pytest.raises(ValueError, match="no prompt"):
        semantic(video(3, 48), prompt="")


def test_raft_dynamic_degree_loads_torchvision_state_dict():
    from torchvision.models.optical_flow import raft_small

    save_at_expected("raft_small", raft_small(weights=None).state_dict())
    metric = get_metric("dynamic", "paper", raft="small")
    result = metric(video(5, 60), fps=16)  # 60 px: exercises padding to a multiple of 8
    assert result.index_kind == "pair" and result.values.shape == (2,)  # frames 0, 2, 4 at 16 fps
    assert result.score in (0.0, 1.0) and result.details["threshold_px"] == pytest.approx(6 * 60 / 256)


class AverageInterpolator(torch.nn.Module):
    def forward(self, frame0, frame1, t):
        return frame0 * (1 - t) + frame1 * t


def test_torchscript_interpolator_contract_and_vbench_formula():
    path = WeightsResolver().expected_path("frame_interpolator")
    path.parent.mkdir(parents=True)
    torch.jit.save(torch.jit.script(AverageInterpolator()), str(path))
    metric = get_metric("motion", "paper")
    ramp = np.broadcast_to(np.arange(0, 200, 20, dtype=np.uint8)[:, None, None, None], (10, 8, 8, 3)).copy()
    assert metric(ramp).score == pytest.approx(1.0)  # linear brightness change is interpolated exactly
    flicker = ramp.copy()
    flicker[1::2] = 0
    result = metric(flicker)
    expected = [(255 - abs(flicker[k] .astype(float) - (ramp[k - 1] / 2 + ramp[k + 1] / 2).round()).mean()) / 255
                for k in range(1, 9, 2)]
    np.testing.assert_allclose(result.values, expected, atol=1 / 255)


def test_motion_with_raft_interpolator_runs_on_random_raft_large():
    from torchvision.models.optical_flow import raft_large

    save_at_expected("raft_large", raft_large(weights=None).state_dict())
    result = get_metric("motion", "paper", interpolator="raft")(video(3, 32))
    assert result.index_kind == "triplet" and result.values.shape == (1,) and 0 <= result.score <= 1


class FixedBoxDetector(torch.nn.Module):
    def forward(self, image):
        return torch.tensor([[4.0, 4.0, 40.0, 40.0]]), torch.tensor([0.9])


class BrightnessAnomaly(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 3)  # random weights: part of the saved network

    def forward(self, crops):
        return (crops.mean(dim=(1, 2, 3)) > 0.5).float() + 0.0 * self.conv(crops).mean()


def test_anatomy_scores_share_of_frames_without_anomalous_detections():
    for key, module in [("anatomy_detector", FixedBoxDetector()), ("anatomy_classifier", BrightnessAnomaly())]:
        path = WeightsResolver().expected_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(torch.jit.script(module), str(path))
    frames = np.zeros((4, 48, 48, 3), np.uint8)
    frames[1] = 255  # one frame whose detected subject the classifier calls anomalous
    result = get_metric("anatomy", "paper")(frames)
    assert list(result.values) == [1.0, 0.0, 1.0, 1.0] and result.score == 0.75
    assert result.details["frames_with_detections"] == 4


class TinySCRFD(torch.nn.Module):
    """SCRFD's output contract (3 strides x 2 anchors: scores, distances, 5 keypoints) with tiny random convs."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem, self.down16, self.down32 = nn.Conv2d(3, 8, 8, 8), nn.Conv2d(8, 8, 2, 2), nn.Conv2d(8, 8, 2, 2)
        self.score = nn.ModuleList(nn.Conv2d(8, 2, 1) for _ in range(3))
        self.bbox = nn.ModuleList(nn.Conv2d(8, 8, 1) for _ in range(3))
        self.kps = nn.ModuleList(nn.Conv2d(8, 20, 1) for _ in range(3))

    def forward(self, x):
        f8 = torch.relu(self.stem(x))
        f16 = torch.relu(self.down16(f8))
        f32 = torch.relu(self.down32(f16))
        scores, boxes, points = [], [], []
        for i, feature in enumerate((f8, f16, f32)):
            scores.append(torch.sigmoid(self.score[i](feature)).permute(0, 2, 3, 1).reshape(-1, 1))
            boxes.append((torch.relu(self.bbox[i](feature)) + 1.0).permute(0, 2, 3, 1).reshape(-1, 4))
            points.append(self.kps[i](feature).permute(0, 2, 3, 1).reshape(-1, 10))
        return (*scores, *boxes, *points)


class TinyArcFace(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = torch.nn.Conv2d(3, 8, 4, 4), torch.nn.Linear(8 * 28 * 28, 512)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_insightface_identity_loads_random_onnx_models_from_the_insightface_root():
    pytest.importorskip("insightface")
    pytest.importorskip("onnx")
    resolver = WeightsResolver()
    detector, recogniser = resolver.expected_path("insightface_det"), resolver.expected_path("insightface_rec")
    detector.parent.mkdir(parents=True)
    outputs = [f"{kind}_{stride}" for kind in ("score", "bbox", "kps") for stride in (8, 16, 32)]
    torch.onnx.export(TinySCRFD(), torch.zeros(1, 3, 640, 640), str(detector), input_names=["input.1"],
                      output_names=outputs, dynamic_axes={"input.1": {2: "h", 3: "w"}}, dynamo=False)
    torch.onnx.export(TinyArcFace(), torch.zeros(1, 3, 112, 112), str(recogniser), input_names=["input.1"],
                      output_names=["embedding"], dynamo=False)
    metric = get_metric("identity", "paper", det_size=160, det_thresh=0.52)
    assert metric.available() == (True, "")
    same = np.repeat(video(1, 64, seed=1), 3, axis=0)
    result = metric(same)
    assert list(result.index) == [1, 2] and result.values == pytest.approx([1.0, 1.0], abs=1e-5)
    different = metric(np.concatenate([same[:1], video(2, 64, seed=2)]))
    assert np.all(different.values < 0.9999)


def test_dlib_identity_with_real_cc0_weights_same_person_stays_below_0_6(dlib_identity_and_face):
    metric, face = dlib_identity_and_face
    frames = np.stack([np.roll(face, shift, axis=1) for shift in (0, 3, 6)])
    result = metric(frames)
    assert result.details["same_person_share"] == 1.0 and result.score < 0.3
    from skimage import data

    cat = np.stack([data.chelsea()[:240, :240]] * 3)
    with pytest.raises(ValueError, match="face was found in 0 of 3 frames"):
        metric(cat)
