"""Quality control: agreement between annotators and accuracy on gold items."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.ratings.battles import WINNERS


def annotator_agreement(battles: pd.DataFrame) -> dict[str, float]:
    """Agreement on regular items voted by two or more different annotators.

    Categories are the four outcomes (model_a, model_b, tie, both bad); an item always shows the
    same two videos, so the categories mean the same for every annotator of that item.

    Returns:
        ``items`` (items with ≥ 2 annotators), ``pairwise_agreement`` (share of annotator pairs on
        the same item that chose the same outcome) and ``fleiss_kappa`` (Fleiss' κ generalised to a
        varying number of annotators per item); NaN when no item qualifies.
    """
    empty = {"items": 0, "pairwise_agreement": float("nan"), "fleiss_kappa": float("nan")}
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
    return {
        "items": int(len(table)),
        "pairwise_agreement": float(agreeing_pairs.sum() / all_pairs.sum()),
        "fleiss_kappa": float(kappa),
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
