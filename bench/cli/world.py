"""`fpbench world`: render lab-world clips and export the fixed test splits.

    fpbench world --seed 3 --frames 48 --out clip.mp4      # a clip (mp4, or .png contact sheet)
    fpbench world --seed 3 --frames 48 --out clip.mp4 --states states.parquet
    fpbench world --split i2v --out tests_i2v/               # prompts.json + start frames (PNG)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.atomic_files import atomic_write, atomic_write_json, atomic_write_parquet
from bench.cli._arg_types import seed


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "world", help="render lab-world clips or export the fixed test splits",
        description="Render a seeded clip of the procedural lab world (and its ground truth), or "
                    "write one of the fixed 64-item test splits (prompts, seeds, start frames).",
    )
    parser.add_argument("--seed", type=seed, default=0, help="clip seed (default 0)")
    parser.add_argument("--frames", type=int, default=32, help="clip length in frames (default 32)")
    parser.add_argument("--fps", type=float, default=16.0, help="frame rate (default 16)")
    parser.add_argument("--split", choices=("i2v", "t2v"), help="export this test split instead of a clip")
    parser.add_argument("--out", required=True,
                        help="clip: .mp4 or .png (contact sheet); split: an output folder")
    parser.add_argument("--states", help="also write the clip's per-frame ground truth to this .parquet")
    parser.set_defaults(func=main)


def _write_png(path: Path, image) -> None:
    import cv2

    ok, encoded = cv2.imencode(".png", image[..., ::-1])
    if not ok:
        raise ValueError(f"could not encode image {path}")
    atomic_write(path, lambda stream: stream.write(encoded.tobytes()))


def contact_sheet(frames, columns: int = 8):
    """Tile uint8 frames (T, H, W, 3) into rows of `columns` (padding the last row with black)."""
    import numpy as np

    t, h, w, c = frames.shape
    rows = -(-t // columns)
    sheet = np.zeros((rows * h, columns * w, c), np.uint8)
    for i, frame in enumerate(frames):
        r, k = divmod(i, columns)
        sheet[r * h : (r + 1) * h, k * w : (k + 1) * w] = frame
    return sheet


def states_table(clip):
    """One row per frame of a clip's ground truth (pandas DataFrame)."""
    import pandas as pd

    rows = []
    for s in clip.states:
        rows.append({"frame": s.index, "time": s.time, "present": s.present, "x": s.x, "y": s.y,
                     "radius": s.radius, "shape": s.shape, "colour": s.colour, "identity": s.identity,
                     "structure": s.structure, "distractor_x": s.distractor.x if s.distractor else None,
                     "distractor_y": s.distractor.y if s.distractor else None})
    return pd.DataFrame(rows)


def _export_split(kind: str, out: Path) -> None:
    from bench.world import test_split

    out.mkdir(parents=True, exist_ok=True)
    items = []
    for item in test_split(kind):
        entry = {"index": item.index, "seed": item.seed, "prompt": item.prompt}
        if item.start_frame is not None:
            entry["start_frame"] = f"start_{item.index:02d}.png"
            _write_png(out / entry["start_frame"], item.start_frame)
        items.append(entry)
    atomic_write_json(out / "prompts.json", items, indent=1)
    print(f"wrote {len(items)} {kind} items to {out}")


def main(args: argparse.Namespace) -> int:
    from bench.world import sample_clip

    out = Path(args.out)
    if args.split:
        _export_split(args.split, out)
        return 0
    if out.suffix.lower() not in (".mp4", ".png"):
        raise ValueError(f"--out must end in .mp4 or .png for a clip, got {out}")
    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames} (default 32)")
    if not args.fps > 0:
        raise ValueError(f"--fps must be > 0, got {args.fps} (default 16)")
    clip = sample_clip(args.seed, args.frames, args.fps)
    if out.suffix.lower() == ".png":
        _write_png(out, contact_sheet(clip.frames))
    else:
        from bench.video_io import Mp4Sink

        sink = Mp4Sink(out, fps=max(1, round(args.fps)))
        sink.put(0, clip.frames)
        sink.close()
    if args.states:
        atomic_write_parquet(args.states, states_table(clip))
    print(clip.prompt)
    print(f"wrote {args.frames} frames to {out}")
    return 0
