"""Which metric agrees with the votes: per metric and drift value, against A/B votes.

For every metric value a grid stores (the video score, the start–end drift Δ and any VDE
column), two numbers, as VBench reports each dimension's agreement with human preference:

- vote agreement: over the decisive regular votes (a winner, not a tie), the share in which the
  metric prefers the winner. When a vote names its prompt and seed (votes from a study), the
  metric compares the two videos that were shown; otherwise the two rows' mean values. A metric
  tie counts one half. 95 % interval: percentile bootstrap over votes.
- ranking agreement: Kendall's τ between the rows ordered by the metric's row mean and the rows
  ordered by their Bradley–Terry rating (`bench.ratings.fit_bradley_terry`) from the same votes.

"Prefers" follows the metric's direction: higher scores for "higher" metrics, lower for "lower"
ones; every drift value prefers the lower. Scores of "neutral" metrics (no better direction) are
left out; their drift is kept.

Simulated votes: the demo's simulated judges draw their preferences from the rows' lab-metric
scores, so metrics agree with them by construction; the table and the figure say SIMULATED.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

AGREEMENT_COLUMNS = ["metric", "value", "votes", "level", "share", "ci_low", "ci_high", "rows", "kendall_tau",
                     "tau_pvalue"]
DRIFT_VALUES = ("drift", "vde_linear", "vde_log")
SIMULATED_NOTE = ("SIMULATED votes: the simulated judges prefer rows by their lab-metric scores, so the metrics "
                  "agree with them by construction; this measures nothing about people")


@dataclass(frozen=True)
class AgreementReport:
    """The agreement table and what it was computed from."""

    table: pd.DataFrame
    simulated: bool
    decisive_votes: int
    ratings: pd.Series  # Bradley–Terry rating per row

    def to_json(self) -> dict:
        return {"simulated": self.simulated, "note": SIMULATED_NOTE if self.simulated else "",
                "decisive_votes": self.decisive_votes,
                "bradley_terry": {k: float(v) for k, v in self.ratings.items()},
                "agreement": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                              for r in self.table.to_dict("records")]}


def metric_values(scores: pd.DataFrame, directions: dict[str, str],
                  drift_metrics: list[str] | None = None) -> pd.DataFrame:
    """Long table of every (row, prompt, seed, metric, value kind) with the direction that is better.

    Args:
        scores: scores.parquet of a grid (row, prompt, seed, metric, score, drift[, vde_*]).
        directions: metric -> "higher" | "lower" | "neutral".
        drift_metrics: metrics whose drift values count (None: every metric's).
    """
    kinds = [c for c in ("score", *DRIFT_VALUES) if c in scores.columns]
    long = scores.melt(id_vars=["row", "prompt", "seed", "metric"], value_vars=kinds, var_name="value",
                       value_name="number").dropna(subset=["number"])
    if drift_metrics is not None:
        long = long[(long["value"] == "score") | long["metric"].isin(drift_metrics)]
    long["better"] = np.where(long["value"] == "score", long["metric"].map(directions).fillna("neutral"), "lower")
    long = long[long["better"] != "neutral"]
    # Several lengths of one video key: one number per (row, prompt, seed).
    return long.groupby(["row", "prompt", "seed", "metric", "value", "better"], as_index=False)["number"].mean()


def _decisive(battles: pd.DataFrame) -> pd.DataFrame:
    regular = battles[battles.get("kind", pd.Series("regular", index=battles.index)).fillna("regular") == "regular"]
    decisive = regular[regular["winner"].isin(["model_a", "model_b"])].copy()
    decisive["winner_row"] = np.where(decisive["winner"] == "model_a", decisive["model_a"], decisive["model_b"])
    decisive["loser_row"] = np.where(decisive["winner"] == "model_a", decisive["model_b"], decisive["model_a"])
    return decisive.reset_index(drop=True)


def _bootstrap(agree: np.ndarray, rounds: int, seed: int) -> tuple[float, float]:
    if len(agree) == 0 or rounds < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = agree[rng.integers(0, len(agree), size=(rounds, len(agree)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _vote_level(decisive: pd.DataFrame, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """(winner's numbers, loser's numbers, level) of one metric value over the decisive votes."""
    by_row = part.groupby("row")["number"].mean()
    if {"prompt_id", "seed"} <= set(decisive.columns) and decisive["prompt_id"].notna().all():
        video = part.set_index(["row", "prompt", "seed"])["number"]
        winner_keys = pd.MultiIndex.from_arrays([decisive["winner_row"], decisive["prompt_id"].astype(str),
                                                 decisive["seed"].astype(int)])
        loser_keys = pd.MultiIndex.from_arrays([decisive["loser_row"], decisive["prompt_id"].astype(str),
                                                decisive["seed"].astype(int)])
        winners, losers = video.reindex(winner_keys).to_numpy(), video.reindex(loser_keys).to_numpy()
        if np.isfinite(winners).all() and np.isfinite(losers).all():
            return winners, losers, "video"
    return (decisive["winner_row"].map(by_row).to_numpy(dtype=float),
            decisive["loser_row"].map(by_row).to_numpy(dtype=float), "row")


def metric_agreement(battles: pd.DataFrame, scores: pd.DataFrame, directions: dict[str, str],
                     bootstrap: int = 1000, seed: int = 0, drift_metrics: list[str] | None = None) -> AgreementReport:
    """Vote agreement and Kendall's τ for every metric value (see the module docstring).

    Args:
        battles: votes (the `bench.ratings` battles table; study votes carry prompt_id and seed).
        scores: scores.parquet of the grid the votes compared.
        directions: metric -> "higher" | "lower" | "neutral" (summary.parquet's global columns).
        bootstrap: bootstrap rounds for the vote-agreement interval.
        seed: bootstrap seed.
        drift_metrics: metrics whose drift values are judged (None: all that have one).

    Raises:
        ValueError: no decisive vote, or no voted row is in the scores (naming the rows of each).
    """
    from bench.ratings import count_pairs, fit_bradley_terry, normalize_battles

    battles = normalize_battles(battles)
    decisive = _decisive(battles)
    if decisive.empty:
        raise ValueError(f"no decisive regular votes among {len(battles)} votes (all ties, skips or gold items)")
    voted = sorted(set(decisive["winner_row"]) | set(decisive["loser_row"]))
    measured = set(scores["row"])
    if not set(voted) <= measured:
        raise ValueError(f"voted rows {sorted(set(voted) - measured)} have no scores in the results "
                         f"(rows there: {sorted(measured)}); give the results of the grid the votes compared")
    regular = battles[battles["kind"] == "regular"]
    ratings = fit_bradley_terry(count_pairs(regular), bootstrap=0).ratings
    values = metric_values(scores[scores["row"].isin(voted)], directions, drift_metrics)
    records = []
    for (metric, value), part in values.groupby(["metric", "value"], sort=False):
        better = part["better"].iloc[0]
        winners, losers, level = _vote_level(decisive, part)
        usable = np.isfinite(winners) & np.isfinite(losers)
        sign = 1.0 if better == "higher" else -1.0
        difference = sign * (winners[usable] - losers[usable])
        agree = np.where(np.isclose(difference, 0.0, atol=1e-12), 0.5, (difference > 0).astype(float))
        low, high = _bootstrap(agree, bootstrap, seed)
        row_means = part.groupby("row")["number"].mean() * sign
        common = [r for r in ratings.index if r in row_means.index]
        tau, p_value = (stats.kendalltau(row_means[common], ratings[common]) if len(common) >= 2
                        else (float("nan"), float("nan")))
        records.append({"metric": metric, "value": value, "votes": int(usable.sum()),
                        "level": level,
                        "share": float(agree.mean()) if len(agree) else float("nan"), "ci_low": low, "ci_high": high,
                        "rows": len(common), "kendall_tau": float(tau), "tau_pvalue": float(p_value)})
    table = pd.DataFrame(records, columns=AGREEMENT_COLUMNS).sort_values(["value", "share"], ascending=[True, False])
    simulated = bool(battles["simulated"].astype(bool).any())
    return AgreementReport(table.reset_index(drop=True), simulated, len(decisive), ratings)


def agreement_markdown(report: AgreementReport) -> str:
    """The agreement table as markdown, headed SIMULATED when the votes were."""
    lines = []
    if report.simulated:
        lines += [f"**{SIMULATED_NOTE}.**", ""]
    lines += [f"Agreement of each metric with {report.decisive_votes} decisive A/B votes "
              "(share of votes whose winner the metric prefers, 95 % bootstrap interval; Kendall's τ between the "
              "metric's row order and the Bradley–Terry order).", "",
              "| metric | value | votes | level | agreement | 95 % interval | Kendall τ | rows |",
              "|---|---|---:|---|---:|---|---:|---:|"]
    for r in report.table.itertuples():
        lines.append(f"| {r.metric} | {r.value} | {r.votes} | {r.level} | {r.share:.2f} | "
                     f"{r.ci_low:.2f}–{r.ci_high:.2f} | {r.kendall_tau:.2f} | {r.rows} |")
    return "\n".join(lines) + "\n"
