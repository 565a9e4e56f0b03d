"""Quality control: agreement between annotators and accuracy on gold items."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.ratings.battles import WINNERS
from bench.ratings.krippendorff import krippendorff_alpha

# The ordinal scale of an A/B vote for Krippendorff's α: a both-bad vote prefers neither side.
ORDINAL_CATEGORIES = {"model_a": 0, "tie": 1, "tie (bothbad)": 1, "model_b": 2}


def annotator_agreement(battles: pd.DataFrame, bootstrap: int = 0, seed: int = 0) -> dict[str, float]:
    """Agreement on regular items voted by two or more different annotators.

    Categories are the four outcomes (model_a, model_b, tie, both bad); an item always shows the
    same two videos, so the categories mean the same for every annotator of that item.

    Args:
        battles: a normalised battles table with ``item_id``.
        bootstrap: item resamples for the interval of Krippendorff's α (0 skips it).
        seed: seed of those resamples.

    Returns:
        ``items`` (items with ≥ 2 annotators), ``pairwise_agreement`` (share of annotator pairs on
        the same item that chose the same outcome), ``fleiss_kappa`` (Fleiss' κ generalised to a
        varying number of annotators per item) and ``krippendorff_alpha`` with
        ``krippendorff_alpha_lower``/``_upper`` (ordinal: A better / tie / B better, both-bad as a
        tie; 95 % bootstrap over items); NaN when no item qualifies or α is undefined.
    """
    empty = {"items": 0, "pairwise_agreement": float("nan"), "fleiss_kappa": float("nan"),
             "krippendorff_alpha": float("nan"), "krippendorff_alpha_lower": float("nan"),
             "krippendorff_alpha_upper": float("nan")}
    if "item_id" not in battles.columns:
        return empty
    regular = battles[(battles["kind"] == "regular") & battles["item_id"].notna()]
    # One vote per (item, judge): the first, if a judge somehow voted twice.
    regular = regular.drop_duplicates(["item_id", "judge"])
    table = pd.crosstab(regular["item_id"], regular["winner"]).reindex(columns=list(WINNERS), fill_value=0)
    n_i = table.sum(axis=1)
    table = table[n_i >= 2]
    if table.empty:
        return empty
    counts = table.to_numpy(dtype=float)
    n_i = counts.sum(axis=1)
    agreeing_pairs = (counts * (counts - 1)).sum(axis=1)
    all_pairs = n_i * (n_i - 1)
    p_items = agreeing_pairs / all_pairs
    p_bar = float(p_items.mean())
    p_cat = counts.sum(axis=0) / counts.sum()
    p_e = float((p_cat**2).sum())
    kappa = float("nan") if np.isclose(p_e, 1.0) else (p_bar - p_e) / (1.0 - p_e)
    ordinal = np.stack([counts[:, [k for k, w in enumerate(WINNERS) if ORDINAL_CATEGORIES[w] == c]].sum(axis=1)
                        for c in range(3)], axis=1)
    alpha = krippendorff_alpha(ordinal, metric="ordinal", bootstrap=bootstrap, seed=seed)
    return {
        "items": int(len(table)),
        "pairwise_agreement": float(agreeing_pairs.sum() / all_pairs.sum()),
        "fleiss_kappa": float(kappa),
        "krippendorff_alpha": alpha["alpha"],
        "krippendorff_alpha_lower": alpha["lower"],
        "krippendorff_alpha_upper": alpha["upper"],
    }


def _chosen(row: pd.Series) -> str:
    """What a vote chose, in model terms: the winning model's name, or the tie kind."""
    if row["winner"] == "model_a":
        return str(row["model_a"])
    if row["winner"] == "model_b":
        return str(row["model_b"])
    return str(row["winner"])


def gold_accuracy(battles: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: accuracy on broken-video gold items and consistency on swapped repeats.

    A "gold_broken" vote is correct when it picks ``expected_winner`` (the intact video). A
    "gold_swap" vote is consistent when it chooses the same model (or the same tie kind) as the
    same annotator's vote on the original item ``gold_of``; repeats whose original the annotator
    has not voted on are not scored.

    Returns:
        One row per annotator with gold votes: ``broken_items``, ``broken_correct``,
        ``broken_accuracy``, ``swap_items``, ``swap_consistent``, ``swap_consistency``.
    """
    columns = ["judge", "broken_items", "broken_correct", "broken_accuracy",
               "swap_items", "swap_consistent", "swap_consistency"]
    if "kind" not in battles.columns or not (battles["kind"] != "regular").any():
        return pd.DataFrame(columns=columns)
    rows = []
    for judge, votes in battles.groupby("judge", sort=True):
        broken = votes[votes["kind"] == "gold_broken"]
        correct = int((broken["winner"] == broken.get("expected_winner")).sum()) if len(broken) else 0
        swaps = votes[votes["kind"] == "gold_swap"]
        by_item = {r.get("item_id"): _chosen(r) for _, r in votes.iterrows() if r["kind"] == "regular"}
        scored = consistent = 0
        for _, swap in swaps.iterrows():
            original = by_item.get(swap.get("gold_of")) if swap.get("gold_of") is not None else None
            if original is None:
                continue
            scored += 1
            consistent += int(original == _chosen(swap))
        if len(broken) == 0 and scored == 0:
            continue
        rows.append({
            "judge": judge,
            "broken_items": int(len(broken)),
            "broken_correct": correct,
            "broken_accuracy": correct / len(broken) if len(broken) else float("nan"),
            "swap_items": scored,
            "swap_consistent": consistent,
            "swap_consistency": consistent / scored if scored else float("nan"),
        })
    return pd.DataFrame(rows, columns=columns)
