"""The one offline weights resolver.

Every file a paper backend (or the classical NIQE) needs is listed in `WEIGHT_FILES` with its
size, where it comes from (documented, never fetched: nothing here downloads) and where it is
looked for. `fpbench weights [--dir DIR]` prints the table with present / missing.

Roots, read from the environment at call time (so tests can point them at temporary folders):
    torch_hub    $TORCH_HOME/hub               (default ~/.cache/torch/hub; pyiqa and torchvision use it)
    hf_home      $HF_HOME                      (default ~/.cache/huggingface)
    insightface  $INSIGHTFACE_ROOT             (default ~/.insightface; FaceAnalysis's `root`)
    data         $FPBENCH_DATA                 (default <python prefix>/share/framepack-bench;
                                                registry-installed parameter files)
    package      a file inside an installed Python package (e.g. face_recognition_models)
A weights folder given as `weights_dir` / `--dir` is searched first: DIR/<filename> or
DIR/<expected relative path>.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Root = Literal["torch_hub", "hf_home", "insightface", "data", "package"]


class MissingWeightsError(FileNotFoundError):
    """A weights file is not on disk. The message names the file, its source and the target path."""


@dataclass(frozen=True)
class WeightFile:
    """One file a backend loads.

    Attributes:
        key: identifier used by the backends (e.g. "musiq_spaq").
        used_by: which metric[backend] needs it.
        filename: the file's name.
        size: approximate size on disk (documentation).
        source: where a user gets it (documented, never fetched by the suite).
        root: which root it lives under (see module docstring).
        relative: expected path under the root (for `package`: "<package>/<path inside it>").
        alternates: further glob patterns under the root that are accepted (e.g. an HF cache snapshot).
        licence: the file's licence where known.
    """

    key: str
    used_by: str
    filename: str
    size: str
    source: str
    root: Root
    relative: str
    alternates: tuple[str, ...] = ()
    licence: str = ""


_PYIQA_HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"

WEIGHT_FILES: tuple[WeightFile, ...] = (
    WeightFile("musiq_spaq", "clarity[paper]", "musiq_spaq_ckpt-358bb6af.pth", "≈105 MB",
               _PYIQA_HF + "musiq_spaq_ckpt-358bb6af.pth", "torch_hub",
               "pyiqa/musiq_spaq_ckpt-358bb6af.pth", licence="pyiqa weights (research use)"),
    WeightFile("clip_vit_l14", "aesthetic[paper], semantic[paper]", "open_clip_pytorch_model.bin", "≈1.7 GB",
               "https://huggingface.co/timm/vit_large_patch14_clip_224.openai (open_clip ViT-L-14, OpenAI weights)",
               "hf_home", "fpbench/ViT-L-14-openai/open_clip_pytorch_model.bin",
               alternates=("fpbench/ViT-L-14-openai/open_clip_model.safetensors",
                           "hub/models--timm--vit_large_patch14_clip_224.openai/snapshots/*/open_clip_pytorch_model.bin",
                           "hub/models--timm--vit_large_patch14_clip_224.openai/snapshots/*/open_clip_model.safetensors"),
               licence="MIT (OpenAI CLIP)"),
    WeightFile("laion_linear_head", "aesthetic[paper] (head=linear, VBench)", "sa_0_4_vit_l_14_linear.pth", "≈4 KB",
               "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth",
               "torch_hub", "fpbench/sa_0_4_vit_l_14_linear.pth", licence="MIT"),
    WeightFile("laion_mlp_head", "aesthetic[paper] (head=mlp)", "sac+logos+ava1-l14-linearMSE.pth", "≈3.7 MB",
               "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac+logos+ava1-l14-linearMSE.pth",
               "torch_hub", "fpbench/sac+logos+ava1-l14-linearMSE.pth", licence="Apache-2.0"),
    WeightFile("raft_large", "dynamic[paper], motion[paper] (interpolator=raft)", "raft_large_C_T_V2-1bb1363a.pth",
               "≈21 MB", "https://download.pytorch.org/models/raft_large_C_T_V2-1bb1363a.pth (torchvision)",
               "torch_hub", "checkpoints/raft_large_C_T_V2-1bb1363a.pth", licence="BSD-3-Clause"),
    WeightFile("raft_small", "dynamic[paper] (raft=small)", "raft_small_C_T_V2-01064c6d.pth", "≈4 MB",
               "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth (torchvision)",
               "torch_hub", "checkpoints/raft_small_C_T_V2-01064c6d.pth", licence="BSD-3-Clause"),
    WeightFile("frame_interpolator", "motion[paper] (interpolator=torchscript)", "frame_interpolator.pt", "≈12 MB (AMT-S)",
               "TorchScript export of VBench's AMT-S (amt-s.pth, https://huggingface.co/lalala125/AMT); "
               "contract: f(frame0, frame1, t) -> frame_t, floats (1,3,H,W) in [0,1]",
               "torch_hub", "fpbench/frame_interpolator.pt"),
    WeightFile("anatomy_detector", "anatomy[paper]", "anatomy_detector.pt", "≈100 MB (YOLO-World)",
               "TorchScript export of VBench-2.0's human-anatomy detector (Vchitect/VBench, VBench-2.0); "
               "contract: f(image (1,3,H,W) [0,1]) -> boxes (N,4) xyxy px, scores (N,)",
               "torch_hub", "fpbench/anatomy_detector.pt"),
    WeightFile("anatomy_classifier", "anatomy[paper]", "anatomy_classifier.pt", "≈330 MB (ViT)",
               "TorchScript export of VBench-2.0's anomaly classifier (Vchitect/VBench, VBench-2.0); "
               "contract: f(crops (N,3,224,224) [0,1]) -> P(anomalous) (N,)",
               "torch_hub", "fpbench/anatomy_classifier.pt"),
    WeightFile("insightface_det", "identity[paper]", "det_10g.onnx", "≈17 MB",
               "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip (det_10g.onnx)",
               "insightface", "models/buffalo_l/det_10g.onnx", licence="non-commercial research"),
    WeightFile("insightface_rec", "identity[paper]", "w600k_r50.onnx", "≈174 MB",
               "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip (w600k_r50.onnx)",
               "insightface", "models/buffalo_l/w600k_r50.onnx", licence="non-commercial research"),
    WeightFile("dlib_face_recognition", "identity_dlib[paper]", "dlib_face_recognition_resnet_model_v1.dat",
               "≈22 MB", "PyPI face-recognition-models==0.3.0 (extra `dlib`)", "package",
               "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat", licence="CC0"),
    WeightFile("dlib_shape_predictor_5", "identity_dlib[paper]", "shape_predictor_5_face_landmarks.dat", "≈9 MB",
               "PyPI face-recognition-models==0.3.0 (extra `dlib`)", "package",
               "face_recognition_models/models/shape_predictor_5_face_landmarks.dat", licence="CC0"),
    WeightFile("i3d_torchscript", "reference_distance[paper] (FVD)", "i3d_torchscript.pt", "≈50 MB (I3D, Kinetics-400)",
               "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt (the FVD detector of StyleGAN-V / DIGAN / "
               "DFoT); contract: f(videos (N,3,T,224,224) float [-1,1], rescale=False, resize=False, "
               "return_features=True) -> (N,400)",
               "torch_hub", "fpbench/i3d_torchscript.pt", licence="Apache-2.0 (Kinetics I3D)"),
    WeightFile("dino_vitb16", "i2v_subject[paper]", "dino_vitbase16_pretrain.pth", "≈330 MB (DINO ViT-B/16)",
               "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth "
               "(the state_dict VBench-I2V loads through torch.hub facebookresearch/dino dino_vitb16)",
               "torch_hub", "checkpoints/dino_vitbase16_pretrain.pth", licence="Apache-2.0"),
    WeightFile("dreamsim_embedder", "i2v_background[paper]", "dreamsim_embed.pt", "≈400 MB (DreamSim ensemble)",
               "TorchScript export of DreamSim's `embed` (pip dreamsim, pretrained ensemble; VBench-I2V's background "
               "model); contract: f(images (N,3,224,224) float [0,1]) -> embeddings (N,D)",
               "torch_hub", "fpbench/dreamsim_embed.pt", licence="MIT (DreamSim)"),
    WeightFile("niqe_params", "clarity[classical] (NIQE)", "niqe_pris_params.npz", "≈11 KB",
               "PyPI sdist basicsr==1.4.2, basicsr/metrics/niqe_pris_params.npz (installed by "
               "`python -m metrics.classical.niqe_params`, run by `make setup`)",
               "data", "niqe_pris_params.npz", licence="Apache-2.0"),
)

_BY_KEY = {w.key: w for w in WEIGHT_FILES}


def weight_file(key: str) -> WeightFile:
    """The table entry for `key`; ValueError listing the keys otherwise."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown weights key {key!r}; known: {sorted(_BY_KEY)}") from None


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def root_path(root: Root) -> Path | None:
    """The folder a root names, from the environment now (None for `package`)."""
    if root == "torch_hub":
        torch_home = os.environ.get("TORCH_HOME")
        return (Path(torch_home) if torch_home else _cache_home() / "torch") / "hub"
    if root == "hf_home":
        return Path(os.environ.get("HF_HOME") or _cache_home() / "huggingface")
    if root == "insightface":
        return Path(os.environ.get("INSIGHTFACE_ROOT") or Path.home() / ".insightface")
    if root == "data":
        return Path(os.environ.get("FPBENCH_DATA") or Path(sys.prefix) / "share" / "framepack-bench")
    return None


def _package_path(relative: str) -> Path | None:
    package, _, inside = relative.partition("/")
    # find_spec without importing: face_recognition_models imports pkg_resources at import time.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / inside


class WeightsResolver:
    """Finds weight files on disk; never downloads.

    Args:
        weights_dir: a folder searched first (DIR/<filename>, DIR/<expected relative path>).
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None) -> None:
        self.weights_dir = Path(weights_dir).expanduser() if weights_dir else None

    def expected_path(self, key: str) -> Path:
        """Where the file should be placed (the first place looked, after `weights_dir`)."""
        entry = weight_file(key)
        if entry.root == "package":
            found = _package_path(entry.relative)
            return found if found else Path(f"<site-packages>/{entry.relative}")
        return root_path(entry.root) / entry.relative

    def candidates(self, key: str) -> list[Path]:
        """Every path checked for `key`, in order."""
        entry = weight_file(key)
        paths: list[Path] = []
        if self.weights_dir is not None:
            paths += [self.weights_dir / entry.filename, self.weights_dir / entry.relative]
        paths.append(self.expected_path(key))
        root = root_path(entry.root)
        if root is not None:
            for pattern in entry.alternates:
                matches = sorted(glob.glob(str(root / pattern)))
                paths += [Path(m) for m in matches] if matches else [root / pattern]
        return paths

    def find(self, key: str) -> Path | None:
        """The first existing file for `key`, or None."""
        for path in self.candidates(key):
            if path.is_file():
                return path
        return None

    def require(self, key: str) -> Path:
        """The file for `key`; raises `MissingWeightsError` naming file, source and target path."""
        found = self.find(key)
        if found is not None:
            return found
        entry = weight_file(key)
        looked = ", ".join(str(p) for p in self.candidates(key))
        raise MissingWeightsError(
            f"{entry.used_by} needs {entry.filename} ({entry.size}); it is not on this machine and is "
            f"never downloaded. Source: {entry.source}. Place it at {self.expected_path(key)} "
            f"(or in a folder passed as --weights-dir). Looked in: {looked}"
        )

    def availability(self, *keys: str) -> tuple[bool, str]:
        """(True, "") when every file of `keys` is on disk, else (False, the first missing file's message)."""
        try:
            for key in keys:
                self.require(key)
        except MissingWeightsError as error:
            return False, str(error)
        return True, ""

    def status(self) -> list[dict]:
        """One row per weights file: key, used_by, filename, size, source, expected, found, present."""
        rows = []
        for entry in WEIGHT_FILES:
            found = self.find(entry.key)
            rows.append({
                "key": entry.key, "used_by": entry.used_by, "filename": entry.filename,
                "size": entry.size, "source": entry.source, "licence": entry.licence,
                "expected": str(self.expected_path(entry.key)),
                "found": str(found) if found else "", "present": found is not None,
            })
        return rows
