"""Does a lab model continue motion that it can see in its history? (a diagnostic, not a test)

    python -m bench.benchmarks.history_motion --rows base fp_vanilla --batches 4

The quality bar's first section has one start frame, so its motion can only come from the prompt.
Here the motion is in the context: vanilla-order sections from the third on, cut from held-out
world clips (validation seeds) with real history (k1, k2 and k4 frames of the clip itself), as in
training. The checkpoint samples the section (16 Euler steps, shift 3); the perceptor reads the
subject's displacement from the last context frame to the last generated frame, against the real
continuation's. Reported per row: mean displacement, the share of examples moving more than 1 px,
the share moving more than 1 px within 60° of the real direction, and the mean cosine to the real
direction. Writes results/bench/history_motion.json.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json

ROWS = {"base": "results/checkpoints/base.safetensors"}


def continuation_numbers(perceptor, last_context: list[np.ndarray], generated: list[np.ndarray],
                         real: list[np.ndarray]) -> dict[str, float]:
    """Displacements from each example's last context frame (H, W, 3) to the last frame of its
    generated and real sections (T, H, W, 3), read by the perceptor."""
    from bench.train.evaluate import direction_cosine, motion_summary

    moved_gen, moved_real, cosines = [], [], []
    for frame, gen, ref in zip(last_context, generated, real, strict=True):
        start = perceptor.perceive(frame[None]).position[0]
        move_gen = perceptor.perceive(gen).position[-1] - start
        move_real = perceptor.perceive(ref).position[-1] - start
        moved_gen.append(float(np.linalg.norm(move_gen)))
        moved_real.append(float(np.linalg.norm(move_real)))
        cosines.append(direction_cosine(move_gen, move_real))
    return {"examples": len(generated), **motion_summary(moved_gen, moved_real, cosines)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["base", "fp_vanilla", "fp_vanilla_d"],
                        help="reference row names (base, fp_*, bl_*) or checkpoint paths")
    parser.add_argument("--batches", type=int, default=4, help="batches of 8 examples")
    parser.add_argument("--codec", default="results/checkpoints/codec.safetensors",
                        help="the lab codec the checkpoints were trained on")
    parser.add_argument("--out", default="results/bench/history_motion.json")
    args = parser.parse_args(argv)
    import torch

    from bench.train.base import VANILLA
    from bench.train.data import LatentClipPool
    from bench.train.evaluate import REFERENCE_ROWS
    from bench.train.examples import PlanChoice, random_batch
    from bench.train.objective import conditioning, sample_section
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT
    from metrics.lab.perceptor import LabPerceptor

    torch.set_num_threads(1)
    codec = LabCodec.load(args.codec)
    pool = LatentClipPool.build(codec, "heldout", 32, 110, seed=0, show_progress=False)
    perceptor = LabPerceptor.load()
    vanilla = [PlanChoice(schedule=VANILLA, order="vanilla", has_start=True)]

    def frames(latents: torch.Tensor) -> np.ndarray:
        pixels = codec.decode(latents).clamp(-1, 1)  # (B, 3, T, 64, 64)
        return ((pixels + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()

    result: dict = {"batches": args.batches, "schedule": VANILLA, "codec": args.codec, "rows": {}}
    for row in args.rows:
        checkpoint = {**ROWS, **REFERENCE_ROWS}.get(row, row)
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        model = PackedDiT.load(checkpoint).eval()
        encoder = model.text_encoder()
        rng, noise_rng = random.Random(0), torch.Generator().manual_seed(0)  # the same examples for every row
        last, generated, real = [], [], []
        for _ in range(args.batches):
            batch = None
            while batch is None or batch.plan.section < 2 or batch.last_context is None:
                _, batch = random_batch(pool, vanilla, 6, 8, rng)
            with torch.no_grad():
                sampled = sample_section(model, batch, conditioning(encoder, batch),
                                         torch.randn(batch.target.shape, generator=noise_rng), 16, 3.0)
            last += list(frames(batch.last_context[:, :, :1])[:, 0])
            generated += list(frames(sampled))
            real += list(frames(batch.target))
        numbers = continuation_numbers(perceptor, last, generated, real)
        result["rows"][row] = {"checkpoint": checkpoint, **numbers}
        print(f"{row:>28}  displacement {numbers['displacement_px_generated']:.2f} px (real "
              f"{numbers['displacement_px_real']:.2f})  moving {numbers['moving_share_generated']:.0%}  along the "
              f"real direction {numbers['moving_along_share_generated']:.0%} (real {numbers['moving_share_real']:.0%})  "
              f"cosine {numbers['direction_cosine_generated']:+.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
