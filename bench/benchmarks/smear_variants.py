"""The long-video smear: inference-time variants of the lab model's motion-compensated anchor.

An investigation, kept in history only: it patches `PackedDiT.anchors` (and for W* variants
`PackedDiT.forward`) in place, which no shipped code may do. Design note: docs/lab-models.md,
"2026-12: the long-video smear, investigated".

    python -m bench.benchmarks.smear_variants --variant FRD1 --rows fp_vanilla fp_inverted --items 8

Variants (letters combine):
  A      the shipped code (records diagnostics only)
  B      hard membership: sigmoid(logits) > 0.5
  C      whole-pixel displacement: the shift v·d rounded inside rigid_flow (soft membership)
  R      exact rigid copy: hard membership at pixel resolution moved by the rounded shift
  D1/D2  hard membership dilated by one / two 2-px cells (with R)
  F      the pixels the subject leaves are filled with a blurred background estimate
  W      warp only: the learned correction switched off (a diagnostic, not a model)
  D      re-encode each section through the codec (decode with refiner and clamp, encode)
Videos go to runs/smear/videos/<variant>/ (the long_quality format), reports to runs/smear/results/.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

SCRATCH = Path("runs/smear")
DIAG: dict = {"velocity": [], "distance": [], "fractional_cells": [], "member_cells": [], "shift": []}


def patch(variant: str) -> None:
    import framepack.lab.model as model_module
    from framepack.lab.context_anchor import nearest_context
    from framepack.lab.model import Anchors, PackedDiT
    from framepack.lab.motion_prior import MEMBERSHIP_CELL_PX, rigid_flow

    dilate = {"RD1": 1, "FRD1": 1, "FRD2": 2, "WRD1": 1, "WFRD1": 1}.get(variant, 0)  # cells the hard membership is dilated by
    hard = variant in ("B", "BC", "R", "WR", "FR") or dilate > 0
    integer = variant in ("C", "BC", "R", "WR", "FR") or dilate > 0
    fill = variant in ("F", "FR", "FRD1", "FRD2", "WFRD1")

    def rigid_flow_int(velocity, membership, distance):
        # rigid_flow with the per-frame shift v·d rounded to whole pixels
        b, f, h, w = membership.shape
        shift = (velocity[:, :, None] * distance[:, None, :].to(velocity)).round()
        ys = (torch.arange(h, dtype=velocity.dtype) + 0.5) * 2 / h - 1
        xs = (torch.arange(w, dtype=velocity.dtype) + 0.5) * 2 / w - 1
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        cells = shift.permute(0, 2, 1).reshape(b * f, 1, 1, 2) / MEMBERSHIP_CELL_PX
        offset = cells * torch.tensor([2 / w, 2 / h]).to(velocity)
        arrived = F.grid_sample(membership.reshape(b * f, 1, h, w).to(velocity), base - offset, mode="bilinear",
                                padding_mode="zeros", align_corners=False)
        return arrived.reshape(b, f, 1, h, w).permute(0, 2, 1, 3, 4) * shift[:, :, :, None, None]

    def rigid_flow_exact(velocity, membership, distance):
        # (B, 2, F, H, W) pixel-resolution flow: hard membership moved by an integer pixel shift
        b, f, h, w = membership.shape
        shift = (velocity[:, :, None] * distance[:, None, :].to(velocity)).round()  # (B, 2, F)
        pix = membership.repeat_interleave(MEMBERSHIP_CELL_PX, 2).repeat_interleave(MEMBERSHIP_CELL_PX, 3)
        H, W = pix.shape[-2:]
        out = torch.zeros(b, 2, f, H, W, dtype=velocity.dtype)
        for i in range(b):
            for j in range(f):
                dx, dy = int(shift[i, 0, j]), int(shift[i, 1, j])
                moved = torch.zeros(H, W, dtype=velocity.dtype)
                src = pix[i, j]
                ys, yd = (slice(0, H - dy), slice(dy, H)) if dy >= 0 else (slice(-dy, H), slice(0, H + dy))
                xs, xd = (slice(0, W - dx), slice(dx, W)) if dx >= 0 else (slice(-dx, W), slice(0, W + dx))
                if abs(dy) < H and abs(dx) < W:
                    moved[yd, xd] = src[ys, xs]
                out[i, 0, j] = moved * dx
                out[i, 1, j] = moved * dy
        return out

    flow_fn = rigid_flow_exact if (variant in ("R", "WR", "FR") or dilate > 0) else rigid_flow_int if integer else rigid_flow

    def warp_fill(view, latents, flow, membership):
        """PixelView.warp, then the pixels the subject left (subject in the anchor, not after the move)
        are filled with a background estimate: a normalised Gaussian blur of the anchor's non-subject
        pixels (membership > 0.3 dilated by one cell counts as subject)."""
        b, c, f, h, w = latents.shape
        frames = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        pixels = view.to_pixels(frames)
        size = pixels.shape[-2:]
        motion = flow.permute(0, 2, 1, 3, 4).reshape(b * f, 2, *flow.shape[-2:])
        motion = F.interpolate(motion, size=size, mode="bilinear", align_corners=False)
        ys = (torch.arange(size[0], dtype=pixels.dtype) + 0.5) * 2 / size[0] - 1
        xs = (torch.arange(size[1], dtype=pixels.dtype) + 0.5) * 2 / size[1] - 1
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        offset = torch.stack((motion[:, 0] * 2 / size[1], motion[:, 1] * 2 / size[0]), dim=-1)
        moved = F.grid_sample(pixels, base - offset, mode="bicubic", padding_mode="border", align_corners=False)
        cells = membership.reshape(b * f, 1, *membership.shape[-2:])
        if dilate:  # the fill region is exactly the moving (already dilated, hard) membership
            subject = (cells > 0.5).to(pixels)
        else:
            subject = F.max_pool2d((cells > 0.3).to(pixels), 3, stride=1, padding=1)
        subject = F.interpolate(subject, size=size, mode="nearest")
        # where the subject is after the move: the subject mask read at position − flow
        arrived = F.grid_sample(subject, base - offset, mode="nearest", padding_mode="zeros", align_corners=False)
        # (pixels without flow are not where the subject arrives; frames moved by < 0.5 px are left as they are)
        arrived = arrived * (motion.abs().sum(1, keepdim=True) > 0).to(pixels)
        moving = (motion.abs().amax(dim=(1, 2, 3)) >= 0.5).to(pixels).view(-1, 1, 1, 1)
        vacated = subject * (1 - arrived) * moving
        keep = 1 - subject
        k = torch.exp(-0.5 * (torch.arange(-12, 13, dtype=pixels.dtype) / 5.0) ** 2)
        k = k / k.sum()
        def blur(x):
            x = F.conv2d(F.pad(x, (12, 12, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(x.shape[1], 1, 1, -1), groups=x.shape[1])
            return F.conv2d(F.pad(x, (0, 0, 12, 12), mode="replicate"), k.view(1, 1, -1, 1).expand(x.shape[1], 1, -1, 1), groups=x.shape[1])
        background = blur(pixels * keep) / blur(keep).clamp_min(1e-3)
        DIAG.setdefault("vacated_px", []).append(float(vacated.sum() / (b * f)))
        moved = moved * (1 - vacated) + background * vacated
        warped = frames + view.difference_to_latents(moved - pixels)
        return warped.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)

    def anchors(self, noisy, noisy_indices, context, cond, motion=None, with_logits=False):
        anchor, anchor_index = nearest_context(noisy.shape, noisy_indices, context, cond.image_latent)
        anchor = anchor.to(noisy)
        if not self.config.motion_prior:
            return Anchors(anchor, anchor)
        distance = noisy_indices.to(anchor)[None, :] - anchor_index.to(anchor)
        logits = (None, None)
        if motion is None or with_logits:
            logits = self.motion_prior_logits(anchor, anchor_index, distance, cond)
        velocity = motion.velocity if motion is not None else self.motion_prior.most_likely(logits[0])
        membership = None if motion is None else motion.membership
        if membership is None:
            membership = torch.sigmoid(logits[1] if logits[1] is not None else self.motion_prior.membership_logits(anchor))
        DIAG["velocity"].append(velocity.detach().numpy().tolist())
        DIAG["distance"].append(distance.detach().numpy().tolist())
        DIAG["fractional_cells"].append(float(((membership > 0.1) & (membership < 0.9)).float().mean()))
        DIAG["member_cells"].append(float((membership > 0.5).float().mean()))
        if hard:
            membership = (membership > 0.5).to(membership)
        if dilate:
            k = 2 * dilate + 1
            membership = F.max_pool2d(membership.reshape(-1, 1, *membership.shape[-2:]), k, stride=1,
                                      padding=dilate).reshape(membership.shape)
        flow = flow_fn(velocity.to(anchor), membership.to(anchor), distance)
        if fill:
            return Anchors(anchor, warp_fill(self.pixel_view, anchor, flow.to(anchor), membership), flow, *logits)
        return Anchors(anchor, self.pixel_view.warp(anchor, flow.to(anchor)), flow, *logits)

    if variant in ("W", "WR", "WRD1", "WFRD1"):
        # warp only: x0_hat = the moved anchor exactly (no learned correction); velocity (x_t − a')/t
        def forward(self, noisy, noisy_indices, timesteps, context, cond, attention="full", kv_cache=None,
                    block_frames=None, motion=None, return_anchors=False, section_cache=None):
            indices = torch.as_tensor(noisy_indices)
            anchors_ = self.anchors(noisy, indices, context, cond, motion)
            t = model_module._per_frame(timesteps.to(noisy.dtype), noisy).clamp_min(1e-6)
            return (noisy - anchors_.moved) / t

        PackedDiT.forward = forward

    if variant != "A":
        PackedDiT.anchors = anchors
    else:  # baseline: only record diagnostics, same computation
        original = PackedDiT.anchors

        def recorded(self, noisy, noisy_indices, context, cond, motion=None, with_logits=False):
            if motion is not None:
                DIAG["velocity"].append(motion.velocity.detach().numpy().tolist())
            return original(self, noisy, noisy_indices, context, cond, motion, with_logits)

        PackedDiT.anchors = recorded

    if variant == "D":
        import framepack.framepack_generator as fg

        original_sample = fg.sample
        codec_holder = {}
        DIAG["reencode_max_abs_change"] = []

        def sample_reencoded(*args, **kwargs):
            latents = original_sample(*args, **kwargs)
            codec = codec_holder["codec"]
            again = codec.encode(codec.decode(latents))  # decode clamps to [-1, 1]
            DIAG["reencode_max_abs_change"].append(float((again - latents).abs().max()))
            return again

        fg.sample = sample_reencoded
        original_init = fg.FramePackGenerator.__init__

        def init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            codec_holder["codec"] = self.codec

        fg.FramePackGenerator.__init__ = init


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", required=True, choices=["A", "B", "C", "BC", "R", "D", "W", "WR", "F", "FR", "RD1", "FRD1", "FRD2", "WRD1", "WFRD1"])
    parser.add_argument("--rows", nargs="+", default=["fp_vanilla", "fp_inverted"])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--sections", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="generation seed (the benchmark uses 0)")
    parser.add_argument("--tag", default="", help="suffix of the output folder (e.g. for a short timing run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    patch(args.variant)
    import functools

    import bench.benchmarks.long_quality as lq
    from bench.benchmarks.long_quality import committed_rows, load_or_generate, long_quality_report

    if args.seed:
        lq.generate_row = functools.partial(lq.generate_row, seed=args.seed)
    from bench.world import validation_items

    rows = committed_rows()
    items = validation_items("i2v", args.items)
    name = args.variant + args.tag
    folder = SCRATCH / "videos" / name
    generated, timing = {}, {}
    for row in args.rows:
        started = time.time()
        DIAG["velocity"].clear()
        generated[row] = load_or_generate(row, rows[row], items, args.sections, folder,
                                          lambda row=row, started=started: print(f"  {row}: video done {time.time() - started:.0f}s", flush=True))
        timing[row] = round(time.time() - started, 1)
        print(f"{row}: {timing[row]} s", flush=True)
        (SCRATCH / "results").mkdir(parents=True, exist_ok=True)
        (SCRATCH / "results" / f"{name}_{row}_diag.json").write_text(json.dumps(DIAG))
        for key in DIAG:
            DIAG[key] = []
    started = time.time()
    report = long_quality_report(generated, items, args.sections)
    report["wall_seconds_generate"] = timing
    report["wall_seconds_report"] = round(time.time() - started, 1)
    report["variant"] = args.variant
    out = SCRATCH / "results" / f"{name}.json"
    out.write_text(json.dumps(report, indent=1))
    for row, entry in report["rows"].items():
        print(row, {k: [round(v, 3) for v in entry["curves"][k]] for k in
                    ("identity_kept", "shape_kept", "degradation", "motion_px_per_frame")})
    print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
