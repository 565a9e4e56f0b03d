"""How fast each metric backend measures frames, at 64×64 (lab) and 480p (full scale), on 2 cores,
and for the paper backends at each batch size (frames per network call).

    python -m bench.benchmarks.metrics_speed [--threads 2] [--frames-64 16] [--frames-480 5]
        [--backends classical,lab,paper] [--batch-sizes 1,4] [--device cpu]
        [--out results/bench/metrics_speed.json]

Frames are a lab-world clip (a subject with a face moving over a textured background), resized
for 480p; the dlib backend gets a real face photo. Paper backends run on
RANDOMLY INITIALISED weights of the real architectures (MUSIQ, open_clip ViT-L-14, torchvision
RAFT-large), saved in a temporary TORCH_HOME / HF_HOME: their speed is the real networks' speed,
their values are meaningless. The paper anatomy and torchscript-motion backends are pluggable
(no bundled architecture) and are not timed; the paper identity backend needs insightface's
.onnx files (not timed); identity_dlib runs on its real weights. Model loading is excluded
(one warm-up call). The machine's load average is recorded: other jobs share the 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json

OUT = Path("results/bench/metrics_speed.json")
SIZES = {"64x64": (64, 64), "480p": (480, 832)}
TIMED = {
    "classical": ["clarity", "clarity_piqe", "motion", "dynamic"],
    "lab": ["clarity", "aesthetic", "semantic", "anatomy", "identity"],
    "paper": ["clarity", "aesthetic", "semantic", "dynamic", "motion", "identity_dlib"],
}
OPTIONS = {("motion", "paper"): {"interpolator": "raft"}}
PROMPT = "a red circle with a wide-set, round-eyed, smiling face drifts right over a sand-to-slate gradient"
# (the prompt only matters for the semantic backends' cost, not their values here)


def lab_frames(frames: int, height: int, width: int, seed: int = 1_000_000_123) -> np.ndarray:
    """A lab-world clip (validation seed; subject, face, motion), resized bicubically to (height, width)."""
    import cv2

    from bench.world import sample_clip

    clip = sample_clip(seed, frames).frames
    if clip.shape[1:3] == (height, width):
        return clip
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in clip])


def face_frames(frames: int, height: int, width: int) -> np.ndarray:
    """A real face photo (scikit-image's astronaut) panning slowly, for the face backends."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (min(height, width),) * 2, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        x = min(width - face.shape[1], 2 * t)
        canvas[t, :, x:x + face.shape[1]] = face
    return canvas


def install_random_paper_weights() -> None:
    """Random MUSIQ / CLIP ViT-L-14 / LAION head / RAFT-large at the resolver's expected paths."""
    import torch
    from pyiqa.archs.musiq_arch import MUSIQ
    from torchvision.models.optical_flow import raft_large

    from metrics.weights import WeightsResolver

    resolver = WeightsResolver()

    def save(key, state):
        path = resolver.expected_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)

    import open_clip

    torch.manual_seed(0)
    save("musiq_spaq", MUSIQ(pretrained=False, num_class=1).state_dict())
    save("clip_vit_l14", {k: v.half() for k, v in open_clip.create_model("ViT-L-14-quickgelu").state_dict().items()})
    save("laion_linear_head", torch.nn.Linear(768, 1).state_dict())
    save("raft_large", raft_large(weights=None).state_dict())


def time_metric(metric, frames: np.ndarray, prompt: str) -> float:
    """Seconds for one call (after a warm-up call on the first 3 frames, which loads models)."""
    metric(frames[:3], prompt)
    start = time.perf_counter()
    metric(frames, prompt)
    return time.perf_counter() - start


def measure(backends=("classical", "lab", "paper"), threads: int = 2, frames_64: int = 16,
            frames_480: int = 5, batch_sizes=(1, 4), device: str = "cpu") -> dict:
    """Frames per second of every timed (metric, backend) at 64×64 and 480p — for backends that run a
    network (`NetworkMetric`), at every batch size — as a JSON-able dict."""
    import torch

    from metrics.paper.inference import NetworkMetric
    from metrics.registry import get_metric, get_metric_class

    torch.set_num_threads(threads)
    rows = []
    for backend in backends:
        for name in TIMED[backend]:
            batched = issubclass(get_metric_class(name, backend), NetworkMetric)
            for batch_size in batch_sizes if batched else (None,):
                inference = {"device": device, "batch_size": batch_size} if batched else {}
                metric = get_metric(name, backend, **OPTIONS.get((name, backend), {}), **inference)
                ok, reason = metric.available()
                for size, (height, width) in SIZES.items():
                    count = frames_64 if size == "64x64" else frames_480
                    row = {"metric": name, "backend": backend, "size": size, "frames": count,
                           "batch_size": batch_size, "device": device if batched else "cpu"}
                    if not ok:
                        rows.append({**row, "skipped": reason})
                        continue
                    try:
                        make = face_frames if name == "identity_dlib" else lab_frames
                        seconds = time_metric(metric, make(count, height, width), PROMPT)
                    except ValueError as error:  # e.g. no face found
                        rows.append({**row, "skipped": str(error)})
                        continue
                    random_weights = backend == "paper" and name != "identity_dlib"
                    rows.append({**row, "seconds": seconds, "frames_per_s": count / seconds,
                                 "weights": "random (real architecture)" if random_weights else "real"})
                    shown = f"batch {batch_size:3d}" if batched else "         "
                    print(f"{backend:9s} {name:13s} {size:6s} {shown} {count / seconds:9.2f} frames/s", flush=True)
    return {"rows": rows, "threads": threads, "load_average": os.getloadavg(), "machine": platform.platform(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "note": "shared machine: compare rows within this run only"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames-64", type=int, default=16)
    parser.add_argument("--frames-480", type=int, default=5)
    parser.add_argument("--backends", default="classical,lab,paper")
    parser.add_argument("--batch-sizes", default="1,4", help="frames per network call to time (paper backends)")
    parser.add_argument("--device", default="cpu", help="where the paper backends run (cpu, cuda)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        if "paper" in backends:
            os.environ["TORCH_HOME"] = str(Path(scratch) / "torch")
            os.environ["HF_HOME"] = str(Path(scratch) / "hf")
            install_random_paper_weights()
        report = measure(backends, args.threads, args.frames_64, args.frames_480, batch_sizes, args.device)
    print(f"wrote {atomic_write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
