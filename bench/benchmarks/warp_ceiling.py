"""What a warped anchor can reach on the quality bar with a perfect flow (a diagnostic, not a test).

    python -m bench.benchmarks.warp_ceiling --items 32

A model with `anchor_warp` predicts each frame as its anchor moved along a flow per latent pixel,
plus a correction. Here the flow is the world's true motion (`bench.train.flow_target`), the
correction is zero, and the anchor is the start frame: the first section of each i2v item, read by
the perceptor with the quality bar's own numbers (`bench.train.evaluate.first_section_numbers`).
Beside it, two references: copying the start frame (no motion) and the real clip through the codec.
With `--models`, each checkpoint (with `anchor_warp`) also samples the section with its flow head
replaced by the true flow, its correction kept: what the model's correction does to a correctly
moved anchor.

If the true-flow warp meets identity, motion and degradation, the mechanism is sufficient and a
model's shortfall is in predicting the flow (and in what its correction adds). Items come from the
validation seeds by default, so the test split is never used to choose a design.
Writes results/bench/warp_ceiling.json.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from bench.atomic_files import atomic_write_json

REPORTED = ("presence", "shape_kept", "colour_kept", "identity_kept", "position_error_px_frame1",
            "displacement_px_generated", "moving_along_share_generated", "degradation_generated",
            "degradation_real")


def ceiling_videos(codec, items, frames: int) -> dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]]:
    """Per variant: (videos, real clips, true positions); every video is [start frame, section frames].

    Variants: the true flow per latent pixel (bilinear and bicubic reads); the motion prior's rigid
    flow (`framepack.lab.motion_prior.rigid_flow`) with the true section velocity and subject coverage,
    moving the linear decode, and (a codec with a refiner) the refined decode; copying the start
    frame; the real clip through the codec."""
    from bench.train.flow_target import flow_targets, motion_rows
    from framepack.lab.anchor_warp import PixelView
    from framepack.lab.motion_prior import rigid_flow

    view = PixelView(codec.config.latent_channels, codec.config.downsample)
    view.copy_from_codec(codec)
    videos: dict[str, list[np.ndarray]] = {"true_flow_warp": [], "true_flow_warp_bicubic": [],
                                           "true_rigid_motion_bicubic": [], "copy_start": [], "real_through_codec": []}
    refined_view = None
    if codec.config.refiner_width:  # `warp_refiner_width`: the warp moves the refined decode
        refined_view = PixelView(codec.config.latent_channels, codec.config.downsample, codec.config.refiner_width,
                                 codec.config.refiner_blocks)
        refined_view.copy_from_codec(codec)
        videos["true_rigid_motion_bicubic_refined"] = []
    real, truth = [], []
    for item in items:
        clip = item.reference_clip(frames)
        latents = codec.encode_uint8(clip.frames)  # (1, C, T, h, w)
        rows = motion_rows(clip.states)
        generated = frames - 1
        flow = flow_targets(rows[None, 1:], rows[None, :1].expand(1, generated, -1), codec.config.downsample)
        anchor = latents[:, :, :1].expand(-1, -1, generated, -1, -1)
        start = clip.frames[:1]
        motion = true_motion(rows, generated)
        rigid = rigid_flow(motion.velocity, motion.membership, torch.arange(1, frames, dtype=torch.float32)[None])
        with torch.no_grad():
            videos["true_flow_warp"].append(np.concatenate([start, codec.decode_uint8(view.warp(anchor, flow))]))
            moved = view.warp(anchor, flow, "bicubic")
            videos["true_flow_warp_bicubic"].append(np.concatenate([start, codec.decode_uint8(moved)]))
            moved = view.warp(anchor, rigid, "bicubic")
            videos["true_rigid_motion_bicubic"].append(np.concatenate([start, codec.decode_uint8(moved)]))
            if refined_view is not None:
                moved = refined_view.warp(anchor, rigid, "bicubic")
                videos["true_rigid_motion_bicubic_refined"].append(np.concatenate([start, codec.decode_uint8(moved)]))
        videos["copy_start"].append(np.concatenate([start, codec.decode_uint8(anchor)]))
        videos["real_through_codec"].append(np.concatenate([start, codec.decode_uint8(latents[:, :, 1:])]))
        real.append(clip.frames)
        truth.append(np.array([[s.x, s.y] for s in clip.states]))
    return {name: (vids, real, truth) for name, vids in videos.items()}


def true_motion(rows, generated: int):
    """The `framepack.lab.motion_prior.SectionMotion` of a clip's first section from its start frame:
    the subject's best constant velocity and its coverage of the start frame, per generated frame."""
    from bench.train.flow_target import section_velocity, subject_coverage
    from framepack.lab.motion_prior import MEMBERSHIP_CELL_PX, SectionMotion

    start = rows[None, :1].expand(1, generated, -1)
    distance = torch.arange(1, generated + 1, dtype=torch.float32)[None]
    return SectionMotion(section_velocity(rows[None, 1:generated + 1], start, distance),
                         subject_coverage(start, MEMBERSHIP_CELL_PX))


def sample_with_true_flow(checkpoint: str, codec_path: str, items, frames: int) -> list[np.ndarray]:
    """First sections sampled by `checkpoint` (inverted anti-drifting) with its flow head's output
    replaced by the true flow from the start frame (a motion-prior model: its drawn motion replaced by
    the true section motion); every video is [start frame, section frames]."""
    from bench.generate import build_generator
    from bench.train.evaluate import generate
    from bench.train.flow_target import flow_targets, motion_rows

    generator = build_generator(checkpoint, codec=codec_path, schedule="f1k1_x_g9_f1k1f2k2f16k4_td")
    model = generator.model
    if not model.config.anchor_warp:
        raise ValueError(f"{checkpoint} has no anchor_warp: there is no flow to replace")
    if generator.schedule.frames_per_section != frames - 1:
        raise ValueError(f"{checkpoint} generates {generator.schedule.frames_per_section} frames per section, "
                         f"--frames {frames} asks for {frames - 1}")
    videos = []
    for item in items:
        rows = motion_rows(item.reference_clip(frames).states)
        if model.config.uses_motion_prior:
            motion = true_motion(rows, frames - 1)
            model.draw_motion = lambda *args, motion=motion, **kwargs: motion
            videos.append(generate(generator, item, sections=1))
            continue
        truth = flow_targets(rows[None, 1:], rows[None, :1].expand(1, frames - 1, -1), model.pixel_view.patch)
        model._anchor_flow = lambda raw, distance, truth=truth: truth.expand(raw.shape[0], -1, -1, -1, -1).to(raw)
        videos.append(generate(generator, item, sections=1))
    return videos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=32, help="i2v items")
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--frames", type=int, default=10, help="start frame + one section (9 frames)")
    parser.add_argument("--codec", default="results/checkpoints/codec.safetensors")
    parser.add_argument("--models", nargs="*", default=[], help="warped-anchor checkpoints to sample with the true flow")
    parser.add_argument("--out", default="results/bench/warp_ceiling.json")
    args = parser.parse_args(argv)
    if args.items < 1 or args.frames < 3:
        parser.error(f"--items must be >= 1 and --frames >= 3, got {args.items} and {args.frames}")

    from bench.train.evaluate import first_section_numbers, targets_met
    from bench.world import split_items
    from framepack.lab.codec import LabCodec
    from metrics.lab.perceptor import LabPerceptor

    codec = LabCodec.load(args.codec)
    perceptor = LabPerceptor.load()
    report = {"split": args.split, "items": args.items, "frames": args.frames, "codec": args.codec, "variants": {}}
    items = split_items(args.split, "i2v", args.items)
    variants = ceiling_videos(codec, items, args.frames)
    real_clips = variants["copy_start"][1:]
    for checkpoint in args.models:
        variants[f"{checkpoint} with the true flow"] = (sample_with_true_flow(checkpoint, args.codec, items, args.frames), *real_clips)
    for name, (videos, real, truth) in variants.items():
        numbers = first_section_numbers(perceptor, videos, real, truth)
        report["variants"][name] = {**{k: numbers[k] for k in REPORTED}, "met": targets_met(numbers)}
        shown = "  ".join(f"{k}={numbers[k]:.3f}" for k in REPORTED)
        print(f"{name:>20}: {shown}")
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
