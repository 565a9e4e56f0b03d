"""The lab rows at a glance: how each committed checkpoint was trained and its first-section quality bar.

    python -m bench.train.rows_table            # markdown on stdout (docs/lab-models.md shows it)

Reads only committed files: each row's training sidecar (`results/checkpoints/<row>.json`: steps,
minutes, prior stage), its recipe (`bench/train/configs/`) and the quality report
(`results/checkpoints/quality_report.json`, `python -m bench.train.evaluate`).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.train.evaluate import REFERENCE_ROWS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bench" / "train" / "configs"


def recipe_of(row: str) -> str:
    """The committed config that trains `row` (fp_x → fp_x.yaml, bl_x → baseline_x.yaml)."""
    name = f"baseline_{row[3:]}.yaml" if row.startswith("bl_") else f"{row}.yaml"
    if not (CONFIGS / name).is_file():
        raise FileNotFoundError(f"no recipe for row {row!r}: expected {CONFIGS / name}")
    return f"bench/train/configs/{name}"


def rows_table(checkpoints: Path = ROOT / "results" / "checkpoints") -> str:
    """One markdown line per committed row: recipe, main-loop steps and minutes, prior stage, and the
    quality bar (identity kept, moving along the real direction, degradation gap, targets met)."""
    report = json.loads((checkpoints / "quality_report.json").read_text())["rows"]
    lines = ["| row | recipe | steps | minutes | prior stage (steps, minutes) | identity kept | "
             "moving along | degradation gap | targets met |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in REFERENCE_ROWS:
        trained = json.loads((checkpoints / f"{row}.json").read_text())
        prior = (f"{trained['prior_steps']}, {trained['prior_minutes']:.1f}" if trained.get("prior_steps")
                 else "none")
        bar = report.get(row, {})
        met = [value for value in (bar.get("met") or {}).values() if value is not None]  # None: not applicable
        lines.append(
            f"| {row} | `{recipe_of(row)}` | {trained['steps']} | {trained['minutes']:.1f} | {prior} | "
            + (f"{bar['identity_kept']:.0%} | {bar['moving_along_share_generated']:.0%} | "
               f"{bar['degradation_gap']:.3f} | {sum(map(bool, met))}/{len(met)} |"
               if "identity_kept" in bar else "– | – | – | – |"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(rows_table())
