"""Does a lab model follow the motion words of its prompt? (a diagnostic, not a test)

    python -m bench.benchmarks.motion_words --rows fp_inverted fp_vanilla --items 8

For each start frame of `items` image-to-video test items (or validation items with `--split
validation`), the checkpoint generates one section four times, with the item's prompt rewritten to
"… drifts left / right / up / down over …", same seed. The perceptor reads the subject's
displacement from the first to the last generated frame.
Reported per row: the mean displacement length, the mean cosine between the asked direction and
the displacement (1 = follows the words, 0 = ignores them), and the spread between the four
prompts' displacements (0 px = the words change nothing). Writes results/bench/motion_words.json.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from bench.atomic_files import atomic_write_json
from bench.world import ITEM_SPLITS

DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
_MOTION = re.compile(r"\s(drifts|bobs|bounces|circles|floats)\b.*?(?= over )")


def with_direction(prompt: str, direction: str) -> str:
    """The prompt with its motion phrase replaced by "drifts <direction>"."""
    rewritten, count = _MOTION.subn(f" drifts {direction}", prompt, count=1)
    if count == 0:
        raise ValueError(f"no motion phrase found in prompt {prompt!r}")
    return rewritten


def follow_numbers(generator, perceptor, items, seed: int = 0) -> dict[str, float]:
    from bench.train.evaluate import generate

    lengths, cosines, spreads = [], [], []
    for item in items:
        moves = []
        for direction, vector in DIRECTIONS.items():
            request = type(item)(item.kind, item.index, item.seed, with_direction(item.prompt, direction),
                                 item.attributes, item.start_frame)
            position = perceptor.perceive(generate(generator, request, 1, seed)).position
            move = position[-1] - position[1]
            moves.append(move)
            lengths.append(float(np.linalg.norm(move)))
            cosines.append(float(move @ np.array(vector) / max(np.linalg.norm(move), 1e-6)))
        moves = np.array(moves)
        spreads.append(float(np.linalg.norm(moves - moves.mean(0), axis=1).mean()))
    return {"displacement_px": float(np.mean(lengths)), "direction_cosine": float(np.mean(cosines)),
            "spread_between_prompts_px": float(np.mean(spreads))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["fp_inverted", "fp_vanilla", "fp_vanilla_d",
                                                      "fp_anti_drifting_endpoint"])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--split", choices=ITEM_SPLITS, default="test",
                        help="start frames from the test items or from validation seeds (for candidate checkpoints)")
    parser.add_argument("--schedule", default=None, help="sampling schedule when a checkpoint has no sidecar (a base)")
    parser.add_argument("--out", default="results/bench/motion_words.json")
    args = parser.parse_args(argv)
    import torch

    from bench.generate import build_generator
    from bench.train.evaluate import REFERENCE_ROWS
    from bench.world import split_items
    from metrics.lab.perceptor import LabPerceptor

    torch.set_num_threads(1)
    perceptor = LabPerceptor.load()
    items = split_items(args.split, "i2v", args.items)
    result = {"items": args.items, "split": args.split, "rows": {}}
    for row in args.rows:
        checkpoint = REFERENCE_ROWS.get(row, row)
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        numbers = follow_numbers(build_generator(checkpoint, schedule=args.schedule), perceptor, items)
        result["rows"][row] = numbers
        print(f"{row:>28}  displacement {numbers['displacement_px']:.2f} px  direction cosine "
              f"{numbers['direction_cosine']:+.2f}  spread between prompts {numbers['spread_between_prompts_px']:.2f} px")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
