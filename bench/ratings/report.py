"""Everything `fpbench rate` reports, computed from one battles table, and written to disk."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic_files import atomic_write_parquet, atomic_write_text
from bench.ratings.agreement import annotator_agreement, gold_accuracy
from bench.ratings.battles import count_pairs, model_names, normalize_battles, regular_battles, score_a
from bench.ratings.bradley_terry import DEFAULT_RIDGE, fit_bradley_terry
from bench.ratings.connectivity import comparison_components
from bench.ratings.elo import elo_over_permutations, online_elo
from bench.ratings.labels import SIMULATED_TITLE
from bench.ratings.matrices import (
    battle_count_matrix,
    left_side_win_rate,
    outcome_rates,
    per_annotator_counts,
    win_rate_matrix,
)
from bench.ratings.ranks import PAPER_TIE_BAND, rank_within_components
from bench.ratings.thin_rows import DEFAULT_MIN_BATTLES, interval_notes


@dataclass(frozen=True)
class RatingConfig:
    """Settings of one rating computation.

    Attributes:
        k: online Elo step (32 is the paper's ELO-K32).
        permutations: shuffled vote orders for the Elo spread (0 skips it).
        bootstrap: Bradley–Terry bootstrap rounds (0 skips the intervals).
        seed: seed of permutations and bootstrap.
        tie_band: ratings closer than this share a rank (16 in the paper).
        ridge: Bradley–Terry prior precision on log-odds strengths.
        min_battles: fewest votes a row needs for a Bradley–Terry interval (fewer: no interval,
            and the leaderboard's ``interval_note`` says why).
    """

    k: float = 32.0
    permutations: int = 1000
    bootstrap: int = 1000
    seed: int = 0
    tie_band: float = PAPER_TIE_BAND
    ridge: float = DEFAULT_RIDGE
    min_battles: int = DEFAULT_MIN_BATTLES

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise ValueError(f"k must be > 0, got {self.k}")
        if self.min_battles < 1:
            raise ValueError(f"min_battles must be >= 1 (votes a row needs for an interval), got {self.min_battles}")
        if self.permutations < 0 or self.bootstrap < 0:
            raise ValueError(
                f"permutations and bootstrap must be >= 0, got {self.permutations} and {self.bootstrap}"
            )


@dataclass
class RatingReport:
    """Result of :func:`compute_ratings`. Every table carries a ``simulated`` column."""

    config: RatingConfig
    leaderboard: pd.DataFrame
    pairs: pd.DataFrame  # long form: model, opponent, battles, win_rate
    annotators: pd.DataFrame
    gold: pd.DataFrame
    elo_permutations: pd.DataFrame
    bt_bootstrap: pd.DataFrame
    summary: dict = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return bool(self.summary.get("simulated_votes", 0))


def compute_ratings(battles: pd.DataFrame, config: RatingConfig | None = None) -> RatingReport:
    """Compute ELO-K32, its permutation spread, Bradley–Terry with bootstrap, ranks and QC tables.

    Args:
        battles: a battles table (see :mod:`bench.ratings.battles`); gold rows score annotators
            and are left out of the ratings.
        config: rating settings; defaults to :class:`RatingConfig()`.

    Returns:
        A :class:`RatingReport`; ``summary["seconds"]`` holds the time of each stage.

    Raises:
        ValueError: the table is malformed or holds no regular battle.
    """
    config = config or RatingConfig()
    all_votes = normalize_battles(battles)
    rated = regular_battles(all_votes)
    if rated.empty:
        raise ValueError("no regular battles to rate (the table is empty or holds only gold items)")
    models = model_names(rated)
    simulated_votes = int(all_votes["simulated"].sum())
    simulated = simulated_votes > 0
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    elo = online_elo(rated, k=config.k, models=models)
    seconds["elo"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if config.permutations:
        perms = elo_over_permutations(rated, config.permutations, k=config.k, seed=config.seed, models=models)
        perm_median, perm_lo, perm_hi = perms.median(), perms.quantile(0.025), perms.quantile(0.975)
    else:
        perms = pd.DataFrame(columns=models, dtype=float)
        perm_median = perm_lo = perm_hi = pd.Series(np.nan, index=models)
    seconds["elo_permutations"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bt = fit_bradley_terry(count_pairs(rated, models), config.bootstrap, seed=config.seed, ridge=config.ridge)
    seconds["bradley_terry"] = time.perf_counter() - t0

    s = score_a(rated["winner"])
    points = pd.concat([
        pd.Series(s, index=rated["model_a"]), pd.Series(1.0 - s, index=rated["model_b"])
    ]).groupby(level=0).agg(["sum", "count"]).reindex(models)
    decisive_wins = pd.concat([
        rated.loc[rated["winner"] == "model_a", "model_a"], rated.loc[rated["winner"] == "model_b", "model_b"]
    ]).value_counts().reindex(models, fill_value=0)
    ties = pd.concat([
        rated.loc[s == 0.5, "model_a"], rated.loc[s == 0.5, "model_b"]
    ]).value_counts().reindex(models, fill_value=0)

    board = pd.DataFrame({
        "model": models,
        "elo": elo.to_numpy(),
        "elo_perm_median": perm_median.reindex(models).to_numpy(),
        "elo_perm_lower": perm_lo.reindex(models).to_numpy(),
        "elo_perm_upper": perm_hi.reindex(models).to_numpy(),
        "bt": bt.ratings.to_numpy(),
        "bt_lower": bt.lower.reindex(models).to_numpy(),
        "bt_upper": bt.upper.reindex(models).to_numpy(),
        "battles": points["count"].to_numpy().astype(int),
        "wins": decisive_wins.to_numpy().astype(int),
        "ties": ties.to_numpy().astype(int),
        "score_rate": (points["sum"] / points["count"]).to_numpy(),
    })
    board["losses"] = board["battles"] - board["wins"] - board["ties"]
    board["interval_note"] = interval_notes(board, config.min_battles)
    board.loc[board["interval_note"] != "", ["bt_lower", "bt_upper"]] = np.nan
    components = comparison_components(rated, models)
    component_of = {model: k + 1 for k, group in enumerate(components) for model in group}
    board["component"] = board["model"].map(component_of).astype(int)
    board = rank_within_components(board, config.tie_band)
    board["simulated"] = simulated
    board = board.sort_values(["component", "elo", "model"], ascending=[True, False, True]).reset_index(drop=True)
    board = board[["model", "component", "rank", "rank_ub", *[c for c in board.columns
                                                               if c not in ("model", "component", "rank", "rank_ub")]]]

    counts = battle_count_matrix(rated, models)
    rates = win_rate_matrix(rated, models)
    pairs = (
        rates.stack(future_stack=True).rename("win_rate").to_frame()
        .join(counts.stack().rename("battles"))
        .rename_axis(["model", "opponent"]).reset_index()
    )
    pairs = pairs[pairs["model"] != pairs["opponent"]].reset_index(drop=True)
    pairs["simulated"] = simulated

    annotators = per_annotator_counts(all_votes)
    gold = gold_accuracy(all_votes)
    gold["simulated"] = simulated

    summary = {
        "title": SIMULATED_TITLE if simulated else "human votes",
        "simulated_votes": simulated_votes,
        "votes": int(len(all_votes)),
        "regular_battles": int(len(rated)),
        "gold_votes": int(len(all_votes) - len(rated)),
        "models": len(models),
        "annotators": int(all_votes["judge"].nunique()),
        **outcome_rates(rated),
        **left_side_win_rate(rated),
        "connected": len(components) <= 1,
        "components": components,
        "agreement": annotator_agreement(all_votes, bootstrap=config.bootstrap, seed=config.seed),
        "config": asdict(config),
        "seconds": seconds,
    }
    return RatingReport(
        config=config,
        leaderboard=board,
        pairs=pairs,
        annotators=annotators,
        gold=gold,
        elo_permutations=perms.assign(simulated=simulated),
        bt_bootstrap=bt.bootstrap.assign(simulated=simulated),
        summary=summary,
    )


def _fmt_alpha(agreement: dict) -> str:
    alpha = agreement.get("krippendorff_alpha")
    if alpha is None or np.isnan(alpha):
        return "undefined (every label the same)"
    lo, hi = agreement.get("krippendorff_alpha_lower"), agreement.get("krippendorff_alpha_upper")
    interval = "" if lo is None or np.isnan(lo) else f" [95 % bootstrap {lo:.3f}, {hi:.3f}]"
    return f"{alpha:.3f}{interval}"


def json_ready(value):
    """``value`` with NaN / ±inf as null and numpy scalars as Python numbers, so it is valid JSON."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _fmt_interval(lo: float, hi: float) -> str:
    if np.isnan(lo) or np.isnan(hi):
        return "–"
    return f"[{lo:.0f}, {hi:.0f}]"


def _md_cell(text: str) -> str:
    """A model name safe inside a markdown table cell (pipes and line breaks escaped)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(report: RatingReport) -> str:
    """The leaderboard as a markdown table, titled SIMULATED when any vote was simulated."""
    board = report.leaderboard
    cfg = report.config
    lines = []
    if report.simulated:
        lines += [f"**{SIMULATED_TITLE}** ({report.summary['simulated_votes']} simulated votes)", ""]
    split = board["component"].nunique() > 1
    lines += [
        ("| component " if split else "")
        + f"| rank | rank (UB) | model | ELO-K{cfg.k:g} | ELO over {cfg.permutations} orders: median [95 %] "
        f"| Bradley–Terry [95 % CI, {cfg.bootstrap} bootstrap] | battles | W / T / L | simulated |",
        ("|---:" if split else "") + "|---:|---:|---|---:|---:|---:|---:|---:|:-:|",
    ]
    for row in board.itertuples():
        rank_ub = "–" if pd.isna(row.rank_ub) else str(int(row.rank_ub))
        perm = "–" if np.isnan(row.elo_perm_median) else (
            f"{row.elo_perm_median:.0f} {_fmt_interval(row.elo_perm_lower, row.elo_perm_upper)}"
        )
        bt_interval = "[no interval†]" if row.interval_note else _fmt_interval(row.bt_lower, row.bt_upper)
        lines.append(
            (f"| {row.component} " if split else "")
            + f"| {row.rank} | {rank_ub} | {_md_cell(row.model)} | {row.elo:.0f} | {perm} "
            f"| {row.bt:.0f} {bt_interval} | {row.battles} "
            f"| {row.wins} / {row.ties} / {row.losses} | {'yes' if row.simulated else 'no'} |"
        )
    thin = board[board["interval_note"] != ""]
    if len(thin):
        lines += ["", "† No Bradley–Terry interval (and no rank (UB)): " + "; ".join(
            f"{_md_cell(r.model)}: {r.interval_note}" for r in thin.itertuples()) + "."]
    if split:
        lines += ["", f"The comparison graph has {board['component'].nunique()} components that were never "
                  "compared with each other: ratings and ranks hold only within a component."]
    s = report.summary
    lines += [
        "",
        f"Ranks: ELO-K{cfg.k:g} in logged order, ratings within ±{cfg.tie_band:g} share a rank; "
        "rank (UB) = 1 + models whose BT lower bound beats this model's upper bound.",
        f"Battles: {s['regular_battles']} rated, {s['gold_votes']} gold; tie rate {s['tie_rate']:.3f}, "
        f"both-bad rate {s['both_bad_rate']:.3f}, left-side win rate "
        + (f"{s['left_win_rate']:.3f} over {s['decisive_with_side']} decisive votes"
           if s["decisive_with_side"] else "unknown (sides not recorded)")
        + f"; annotators {s['annotators']}; "
        f"comparison graph {'connected' if s['connected'] else 'NOT connected: ' + str(s['components'])}.",
    ]
    agreement = s["agreement"]
    if agreement["items"]:
        lines.append(
            f"Agreement over {agreement['items']} shared items: {agreement['pairwise_agreement']:.3f} "
            f"pairwise, Fleiss κ {agreement['fleiss_kappa']:.3f}, "
            f"Krippendorff α (ordinal A / tie / B) {_fmt_alpha(agreement)}."
        )
    return "\n".join(lines) + "\n"


def write_report(report: RatingReport, out_dir: str | Path, figures: bool = True) -> dict[str, Path]:
    """Write parquet tables, ``ratings.md``, ``summary.json`` and figures into ``out_dir``.

    Every file is written atomically (temp file + rename). Returns the written paths by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    tables = {
        "ratings": report.leaderboard,
        "pairs": report.pairs,
        "annotators": report.annotators,
        "gold": report.gold,
        "elo_permutations": report.elo_permutations,
        "bt_bootstrap": report.bt_bootstrap,
    }
    for name, frame in tables.items():
        path = out / f"{name}.parquet"
        atomic_write_parquet(path, frame)
        written[name] = path
    md = out / "ratings.md"
    atomic_write_text(md, markdown_table(report))
    written["markdown"] = md
    summary = out / "summary.json"
    atomic_write_text(summary, json.dumps(json_ready(report.summary), indent=2, allow_nan=False))
    written["summary"] = summary
    if figures:
        # One drawing code for ratings: the paper-figure module (imported here, it imports this one).
        from bench.figures.ratings import draw_rating_intervals, draw_win_rate_matrix
        from bench.figures.style import save_figure

        order = list(report.leaderboard["model"])
        ratings_figure = draw_rating_intervals(report.leaderboard, k=report.config.k)
        win_rate_figure = draw_win_rate_matrix(report.pairs, order, simulated=report.simulated)
        written["ratings_figure"] = save_figure(ratings_figure, out / "ratings", formats=("png",))[0]
        written["win_rate_figure"] = save_figure(win_rate_figure, out / "win_rate", formats=("png",))[0]
    return written
