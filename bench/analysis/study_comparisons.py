"""The paper's questions, asked of a study table: paired differences between named rows.

Each question (sampling order, +D, frames per section, ...) is a family of row pairs. For every pair
and every column of the paper's table (the seven metrics and the start–end drift Δ of six of them),
the two rows are paired over the same (prompt, seed, length) items: the mean difference (row −
against, in the table's units) with a bootstrap 95 % interval, a sign-flip permutation p-value, and
Holm's correction across every test of the question. Pairs whose rows are not in the table are left
out, so the module works on a shrunken grid too.

Written beside the table as comparisons.parquet (long form), comparisons.md and the forest plot
figures/comparisons.png (`bench.figures.comparisons`) by `fpbench study`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.results_folder import load_results
from bench.analysis.significance import bootstrap_mean_ci, holm, paired_values, sign_flip_pvalue
from bench.atomic_files import atomic_write, atomic_write_text
from bench.row_labels import row_label
from bench.tables import percent_scale

# The paper's columns: seven metrics, and the start–end drift of the six that have one there.
SCORE_METRICS = ("clarity", "aesthetic", "motion", "dynamic", "semantic", "anatomy", "identity")
DRIFT_METRICS = ("clarity", "aesthetic", "motion", "semantic", "anatomy", "identity")
ALPHA = 0.05

INVERTED = "f1k1_x_g9_f1k1f2k2f16k4_td"
VANILLA = "td_f16k4f4k2f1k1_g9"
VANILLA_D = "td_f16k4f4k2f1k1_g9+D"
NOISY = {sigma: f"noisy_history (σ_train random, σ_test {sigma})" for sigma in ("0", "0.1", "0.5")}
NOISY_MATCHED = "noisy_history (σ_train = σ_test = 0.1)"
BASELINES = ("repeated_i2v", "anchor_frames", "causal_attention", NOISY["0"], NOISY["0.1"], NOISY["0.5"],
             NOISY_MATCHED, "history_guidance (w 1.5)")


@dataclass(frozen=True)
class Question:
    """One of the paper's comparisons: `pairs` of (row, against)."""

    name: str
    pairs: tuple[tuple[str, str], ...]


QUESTIONS: tuple[Question, ...] = (
    Question("sampling order", ((VANILLA, INVERTED), ("td_f16k4f4k2f1k1_g9_x_f1k1", INVERTED),
                                ("td_f16k4f4k2f1k1_g9_x_f1k1", VANILLA))),
    Question("discrete history (+D)", ((VANILLA_D, VANILLA), (f"{INVERTED}+D", INVERTED))),
    Question("frames per section", (("td_f16k4f4k2f1k1_g4", VANILLA), ("td_f16k4f4k2f1k1_g1", VANILLA),
                                    ("f1k1_x_g4_f1k1f2k2f16k4_td", INVERTED))),
    Question("tail mode", (("f1k1_x_g9_f1k1f2k2f16k4_ta", INVERTED), ("f1k1_x_g9_f1k1f2k2f16k4_tc", INVERTED))),
    # Schedule within an order against order within a schedule: which one moves the columns more.
    Question("packing schedule within an order", (("td_f16k4f4k2f2k1_g9", VANILLA),
                                                  ("f1k1_x_g9_f2k1f2k2f16k4_td", INVERTED))),
    Question("sampling order within a schedule", (("td_f16k4f4k2f2k1_g9", "f1k1_x_g9_f2k1f2k2f16k4_td"),)),
    Question("baselines against inverted anti-drifting", tuple((row, INVERTED) for row in BASELINES)),
    Question("baselines against vanilla+D", tuple((row, VANILLA_D) for row in BASELINES)),
    Question("noisy history: σ_train / σ_test", ((NOISY["0.1"], NOISY["0"]), (NOISY["0.5"], NOISY["0"]),
                                                 (NOISY_MATCHED, NOISY["0.1"]))),
    Question("history guidance", (("history_guidance (w 1.5)", "causal_attention"),
                                  ("history_guidance (w 1.5)", NOISY["0"]))),
)

COLUMNS = ["question", "row", "against", "metric", "value", "direction", "n", "mean_difference", "ci_low",
           "ci_high", "scale", "p_sign_flip", "p_holm", "better", "significant"]


def compare_questions(scores: pd.DataFrame, directions: dict[str, str],
                      questions: tuple[Question, ...] = QUESTIONS, rounds: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every question whose rows are all in `scores`, as one long table (COLUMNS).

    `mean_difference`, `ci_low` and `ci_high` are in the table's units (percent for fractions);
    `better` says whether the row is better than `against` on the column (by its direction; drift
    is better lower); `significant` is p_holm < 0.05 over the question's tests.
    """
    rows = set(scores["row"])
    records = []
    for question in questions:
        pairs = [(row, against) for row, against in question.pairs if row in rows and against in rows]
        tests = [(metric, "score", directions.get(metric, "higher")) for metric in SCORE_METRICS
                 if metric in directions] + [(metric, "drift", "lower") for metric in DRIFT_METRICS
                                             if metric in directions]
        family = []
        for row, against in pairs:
            for metric, value, direction in tests:
                paired = paired_values(scores, metric, row, against, value)
                # drift is a difference of scores: the score's units
                scale = percent_scale(scores.loc[scores["metric"] == metric, "score"].dropna())
                differences = (paired["a"] - paired["b"]).to_numpy() * scale
                low, high = bootstrap_mean_ci(differences, rounds, seed)
                mean = float(differences.mean()) if len(differences) else math.nan
                family.append({"question": question.name, "row": row, "against": against, "metric": metric,
                               "value": value, "direction": direction, "n": len(differences),
                               "mean_difference": mean, "ci_low": low, "ci_high": high, "scale": scale,
                               "p_sign_flip": sign_flip_pvalue(differences, rounds * 5, seed)})
        if family:
            adjusted = holm(np.array([record["p_sign_flip"] for record in family]))
            for record, p in zip(family, adjusted, strict=True):
                sign = 1 if record["direction"] == "higher" else -1
                record.update(p_holm=float(p), better=bool(sign * record["mean_difference"] > 0),
                              significant=bool(p < ALPHA))
            records.extend(family)
    return pd.DataFrame(records, columns=COLUMNS)


def comparisons_markdown(table: pd.DataFrame, title: str) -> str:
    """One table per question: rows are pairs, columns the paper's columns, cells the mean
    difference [95 % interval]; bold where Holm-significant (p < 0.05)."""
    lines = [f"# {title}: paired comparisons", "",
             "Each cell: mean difference row − against over the same items and seeds, in the table's units, "
             "with its bootstrap 95 % interval; **bold** = Holm-corrected sign-flip p < 0.05 over the "
             "question's tests. ↑/↓: which sign is better. n = paired videos.", ""]
    for question, part in table.groupby("question", sort=False):
        columns = list(dict.fromkeys(zip(part["metric"], part["value"], part["direction"], strict=True)))
        header = [f"{'Δ ' if value == 'drift' else ''}{metric} {'↑' if direction == 'higher' else '↓'}"
                  for metric, value, direction in columns]
        lines += [f"## {question}", "", "| row | against | n | " + " | ".join(header) + " |",
                  "|---|---|---|" + "---|" * len(header)]
        for (row, against), pair in part.groupby(["row", "against"], sort=False):
            cells = []
            for metric, value, _ in columns:
                record = pair[(pair["metric"] == metric) & (pair["value"] == value)].iloc[0]
                text = f"{record['mean_difference']:+.2f} [{record['ci_low']:+.2f}, {record['ci_high']:+.2f}]"
                cells.append(f"**{text}**" if record["significant"] else text)
            lines.append(f"| {row_label(row)} | {row_label(against)} | {int(pair['n'].min())} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_comparisons(results: str | Path) -> Path:
    """Compare the questions on a results folder (results/<grid>/); writes comparisons.parquet,
    comparisons.md and figures/comparisons.png (and .pdf) there and returns the markdown's path."""
    from bench.figures.comparisons import comparisons_figure

    folder = load_results(results)
    table = compare_questions(folder.scores, folder.directions)
    out = Path(results)
    atomic_write(out / "comparisons.parquet", lambda stream: table.to_parquet(stream, index=False))
    comparisons_figure(table, out / "figures" / "comparisons", folder.name)
    path = out / "comparisons.md"
    atomic_write_text(path, comparisons_markdown(table, folder.name) if len(table) else
                      f"# {folder.name}: paired comparisons\n\nNo question of the study has both its rows here.\n")
    return path
