"""Simulated judges: votes drawn from chosen true strengths plus noise. Always labelled simulated.

Every battle a simulated judge produces has ``simulated=True`` and a judge name starting with
"simulated-", and every table, file and figure made from such votes says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bench.ratings.bradley_terry import LOG_ODDS_PER_POINT

SIMULATED_JUDGE_PREFIX = "simulated-judge-"


def strengths_from_scores(scores: Mapping[str, float], spread: float = 100.0, higher_is_better: bool = True) -> dict[str, float]:
    """Turn per-row metric scores (e.g. a lab metric's means) into Elo-scale true strengths.

    Args:
        scores: one score per row name.
        spread: rating points per standard deviation of the scores.
        higher_is_better: False for metrics where lower is better (drift).

    Returns:
        Strengths centred on 1000.
    """
    if not scores:
        raise ValueError("strengths_from_scores needs at least one row score, got none")
    values = np.array([float(v) for v in scores.values()])
    if not np.isfinite(values).all():
        raise ValueError(f"row scores must be finite numbers, got {dict(scores)}")
    std = values.std()
    z = (values - values.mean()) / std if std > 0 else np.zeros_like(values)
    sign = 1.0 if higher_is_better else -1.0
    return {name: 1000.0 + sign * spread * zz for name, zz in zip(scores, z, strict=True)}


def judge_decision(
    rng: np.random.Generator,
    strength_left: np.ndarray,
    strength_right: np.ndarray,
    tie_rate: float = 0.0,
    both_bad_rate: float = 0.0,
    left_bias: float = 0.0,
) -> np.ndarray:
    """Draw simulated choices for shown pairs: "left" | "right" | "tie" | "both_bad".

    With probability ``tie_rate`` a tie, ``both_bad_rate`` both bad; otherwise left wins with
    P = σ(ln10·(s_left + left_bias − s_right)/400) (Bradley–Terry on the Elo scale).
    """
    strength_left = np.asarray(strength_left, dtype=float)
    n = strength_left.shape[0]
    u = rng.random(n)
    p_left = 1.0 / (1.0 + np.exp(-LOG_ODDS_PER_POINT * (strength_left + left_bias - np.asarray(strength_right))))
    left_wins = rng.random(n) < p_left
    return np.where(
        u < tie_rate, "tie",
        np.where(u < tie_rate + both_bad_rate, "both_bad", np.where(left_wins, "left", "right")),
    )


def simulate_battles(
    strengths: Mapping[str, float],
    n_votes: int,
    seed: int = 0,
    judges: int = 5,
    judge_noise: float = 0.0,
    tie_rate: float = 0.0,
    both_bad_rate: float = 0.0,
    left_bias: float = 0.0,
) -> pd.DataFrame:
    """A battles table from simulated judges (pairs uniform over all model pairs, sides random).

    Args:
        strengths: true Elo-scale strength per model (at least two).
        n_votes: number of battles.
        seed: RNG seed (the result is deterministic under it).
        judges: number of simulated judges; votes are spread over them round-robin.
        judge_noise: standard deviation (rating points) of each judge's private offset per model.
        tie_rate, both_bad_rate: probability of a tie / a both-bad vote.
        left_bias: rating points the left video gains from its position.

    Returns:
        A battles table (see :mod:`bench.ratings.battles`) with ``a_on_left`` (model_a is always
        the left video here), ``simulated=True`` and judges named "simulated-judge-NN".
    """
    names = list(strengths)
    if len(names) < 2:
        raise ValueError(f"simulated judges need at least two models, got {names}")
    if n_votes < 0 or judges < 1:
        raise ValueError(f"n_votes must be >= 0 and judges >= 1, got {n_votes} and {judges}")
    rng = np.random.default_rng(seed)
    true = np.array([float(strengths[m]) for m in names])
    personal = true[None, :] + rng.normal(0.0, judge_noise, size=(judges, len(names)))
    first = rng.integers(0, len(names), size=n_votes)
    second = (first + rng.integers(1, len(names), size=n_votes)) % len(names)
    judge = np.arange(n_votes) % judges
    choice = judge_decision(rng, personal[judge, first], personal[judge, second],
                            tie_rate=tie_rate, both_bad_rate=both_bad_rate, left_bias=left_bias)
    winner = pd.Series(choice).map(
        {"left": "model_a", "right": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
    )
    return pd.DataFrame({
        "model_a": np.array(names)[first],
        "model_b": np.array(names)[second],
        "winner": winner.to_numpy(),
        "judge": [f"{SIMULATED_JUDGE_PREFIX}{j:02d}" for j in judge],
        "tstamp": np.arange(n_votes, dtype=float),
        "a_on_left": True,
        "kind": "regular",
        "simulated": True,
    })


def simulate_study_votes(
    study_dir,
    strengths: Mapping[str, float],
    annotators: int = 5,
    votes_per_annotator: int | None = None,
    seed: int = 0,
    tie_rate: float = 0.05,
    both_bad_rate: float = 0.02,
    judge_noise: float = 30.0,
    left_bias: float = 0.0,
) -> int:
    """Let simulated judges vote on a study through its store (same path as real votes).

    Each judge ("simulated-judge-NN", no token, ``simulated=1``) walks its own queue, gold items
    included (in an adaptive study, item after item as the server would offer them given the
    votes so far); a broken video counts as 1000 points weaker than its row, so attentive simulated
    judges pass the broken-video gold items.

    Args:
        study_dir: a study folder.
        strengths: true Elo-scale strength of every row of the study.
        annotators: number of simulated judges.
        votes_per_annotator: items each judge votes on (default: the whole queue).
        seed, tie_rate, both_bad_rate, judge_noise, left_bias: see :func:`simulate_battles`.

    Returns:
        The number of votes stored.
    """
    from pathlib import Path

    from bench.votes.store import VoteStore
    from bench.votes.study import DB_FILE, load_study

    study = load_study(study_dir)
    missing = [row for row in study.rows if row not in strengths]
    if missing:
        raise ValueError(f"no simulated strength for row(s) {missing}; give one per study row {study.rows}")
    store = VoteStore(Path(study_dir) / DB_FILE)
    rng = np.random.default_rng(seed)
    items = study.item_by_id
    stored = 0
    try:
        for j in range(annotators):
            name = f"{SIMULATED_JUDGE_PREFIX}{j:02d}"
            annotator = store.annotator_by_name(name) or store.add_annotator(name, simulated=True, with_token=False)[0]
            personal = {row: float(s) + rng.normal(0.0, judge_noise) for row, s in strengths.items()}
            for item_id in _walk(study, store, annotator.annotator_id, votes_per_annotator):
                item = items[item_id]
                left = personal[item.left_row] - (1000.0 if item.expected_side == "right" else 0.0)
                right = personal[item.right_row] - (1000.0 if item.expected_side == "left" else 0.0)
                # Each vote draws from its own stream keyed by (seed, judge, item): the queue order
                # depends on the annotator's random id, the votes must not.
                item_key = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "little")
                item_rng = np.random.default_rng([seed, j, item_key])
                choice = judge_decision(item_rng, np.array([left]), np.array([right]), tie_rate, both_bad_rate,
                                        left_bias)[0]
                vote_id = f"sim-{study.seed}-{j:02d}-{item_id}"
                created, _ = store.record_vote(vote_id, annotator, item, str(choice), simulated=True)
                stored += int(created)
    finally:
        store.close()
    return stored


def _walk(study, store, annotator_id: str, limit: int | None):
    """The item ids a judge votes on next, up to ``limit``: its queue, or the adaptive choices."""
    from bench.votes.adaptive_queue import next_adaptive_item
    from bench.votes.study import annotator_queue

    if study.pairing != "adaptive":
        answered = store.answered_items(annotator_id)
        yield from [i for i in annotator_queue(study, annotator_id) if i not in answered][:limit]
        return
    for _ in range(limit if limit is not None else study.regular_per_annotator + len(study.items)):
        upcoming = next_adaptive_item(study, store.votes(), annotator_id)
        if upcoming.item_id is None:
            return
        yield upcoming.item_id  # the caller records the vote before the next choice
