"""How well a warped-anchor model's flow head follows the world's true motion (a diagnostic, not a test).

    python -m bench.benchmarks.flow_probe --rows runs/trials/J45c.safetensors --batches 6

A model with `anchor_warp` moves each frame's anchor along a predicted flow; the warp-ceiling
diagnostic (`bench.benchmarks.warp_ceiling`) shows that the true flow would meet the quality bar.
This reads the flow itself on held-out batches (validation seeds), noised to two times t:

- flow error: squared error against the true flow from the anchor frame
  (`bench.train.objective.flow_supervision_loss`): 1 for a zero flow, 0 for the true one;
- warp ratio: how well the moved anchor alone matches the target, blurred by 1 px
  (`bench.train.objective.warp_matching_loss`): 1 for a zero flow;
- cosine: mean cosine between predicted and true flow where the true flow exceeds 1 px.

At t = 0.3 the noisy section still shows where things went (the flow can be read off it); at
t = 0.95 only the prompt and the context can say (this is where a sample's motion is decided).
Two batch mixes: "all" (the base recipe's plans) and "first" (first sections of inverted
anti-drifting, start frame only). Writes results/bench/flow_probe.json.
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from bench.atomic_files import atomic_write_json

TIMES = (0.3, 0.95)


@torch.no_grad()
def probe(model, pool, choices, max_sections: int, batches: int, t: float, seed: int = 0) -> dict[str, float]:
    """Mean flow error, warp ratio and cosine of `model` over `batches` held-out batches at time t."""
    from bench.train.examples import random_batch
    from bench.train.objective import (
        conditioning,
        flow_supervision_loss,
        model_velocity,
        true_flow,
        warp_matching_loss,
    )

    rng, generator = random.Random(seed), torch.Generator().manual_seed(seed)
    encoder, patch = model.text_encoder(), model.pixel_view.patch
    errors, ratios, cosines = [], [], []
    while len(errors) < batches:
        _, batch = random_batch(pool, choices, max_sections, 8, rng)
        if batch.last_context is None:
            continue
        times = torch.full((batch.target.shape[0],), t)
        noise = torch.randn(batch.target.shape, generator=generator)
        x_t = (1 - t) * batch.target + t * noise
        _, anchors = model_velocity(model, x_t, times, batch, conditioning(encoder, batch), return_anchors=True)
        truth = true_flow(batch, pool.motion, patch)
        errors.append(flow_supervision_loss(anchors, batch, truth).item())
        ratios.append(warp_matching_loss(model.pixel_view, anchors, batch.target, 1.0).item())
        moving = truth.norm(dim=1) > 1.0
        if moving.any():
            cosine = (anchors.flow * truth).sum(1) / (anchors.flow.norm(dim=1) * truth.norm(dim=1) + 1e-6)
            cosines.append(cosine[moving].mean().item())
    return {"flow_error": float(np.mean(errors)), "warp_ratio": float(np.mean(ratios)),
            "cosine": float(np.mean(cosines)) if cosines else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", required=True, help="checkpoints of models with anchor_warp")
    parser.add_argument("--batches", type=int, default=6, help="held-out batches of 8 per time and mix")
    parser.add_argument("--codec", default="results/checkpoints/codec.safetensors")
    parser.add_argument("--cache-dir", default="runs/cache")
    parser.add_argument("--out", default="results/bench/flow_probe.json")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error(f"--batches must be >= 1, got {args.batches}")

    from bench.train.base import default_plan_choices, plan_choices
    from bench.train.data import LatentClipPool
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT

    codec = LabCodec.load(args.codec)
    pool = LatentClipPool.build(codec, "heldout", 32, 110, 0, args.cache_dir, args.codec, show_progress=False)
    everything = plan_choices(default_plan_choices())
    mixes = {"all": (everything, 12), "first": ([c for c in everything if c.order == "inverted_anti_drifting"], 1)}
    report = {"batches": args.batches, "rows": {}}
    for checkpoint in args.rows:
        model = PackedDiT.load(checkpoint).eval()
        if not model.config.anchor_warp:
            parser.error(f"{checkpoint} has no anchor_warp: there is no flow to probe")
        numbers = {f"{mix}@{t}": probe(model, pool, choices, sections, args.batches, t)
                   for mix, (choices, sections) in mixes.items() for t in TIMES}
        report["rows"][checkpoint] = numbers
        print(checkpoint)
        for key, values in numbers.items():
            print(f"  {key:>10}: " + "  ".join(f"{k}={v:.3f}" for k, v in values.items()))
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
