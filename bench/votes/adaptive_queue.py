"""The next item of an annotator in an adaptive study: a pure function of the votes so far.

Each annotator has a plan of slots, fixed by (study seed, annotator): ``regular_per_annotator``
regular slots, every broken-video gold item at a random slot, and ``swap_slots`` swapped-repeat
slots. At a regular slot the pair comes from :func:`bench.ratings.adaptive_pairing.rank_pairs`
over every regular vote of the study (all annotators, imported votes too); the item of that pair
is the one this annotator has not seen that has the fewest votes (ties in the annotator's own
random order), so prompts and seeds rotate and sides stay as randomised when the study was built.
At a swap slot the annotator sees, sides swapped, an item they answered 3 to 10 items earlier.
The server only records votes; calling this again with the same votes gives the same item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.ratings.adaptive_pairing import all_pairs, rank_pairs
from bench.votes.study import Study, annotator_rng

REGULAR_SLOT = "regular"
SWAP_SLOT = "swap"
SWAP_DISTANCE = (3, 10)  # a swapped repeat comes this many items after its original


@dataclass(frozen=True)
class NextItem:
    """What an annotator sees next: an item id (None when the plan is done) and their progress."""

    item_id: str | None
    done: int
    total: int


def annotator_plan(study: Study, annotator_id: str) -> list[str]:
    """The annotator's slots in order: "regular", "swap", or the id of a broken-video gold item."""
    rng = annotator_rng(study, annotator_id)
    plan = [REGULAR_SLOT] * study.regular_per_annotator
    for _ in range(study.swap_slots):
        plan.insert(int(rng.integers(SWAP_DISTANCE[0], len(plan) + 1)), SWAP_SLOT)
    for item in study.items:
        if item.kind == "gold_broken":
            plan.insert(int(rng.integers(len(plan) + 1)), item.item_id)
    return plan


def pair_counts(study: Study, votes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Wins (ties 0.5) and totals per row pair of :func:`all_pairs` over the study's regular votes."""
    index = {row: k for k, row in enumerate(study.rows)}
    n = len(study.rows)
    i, j = all_pairs(n)
    position = {(a, b): q for q, (a, b) in enumerate(zip(i, j, strict=True))}
    wins = np.zeros(len(i))
    totals = np.zeros(len(i))
    regular = votes[(votes["kind"] == "regular") & (votes["choice"] != "skip")]
    for left, right, choice in zip(regular["left_row"], regular["right_row"], regular["choice"], strict=True):
        a, b = index.get(left), index.get(right)
        if a is None or b is None or a == b:
            continue  # an imported vote about a row this study does not hold
        q = position[(min(a, b), max(a, b))]
        left_score = {"left": 1.0, "right": 0.0}.get(choice, 0.5)
        wins[q] += left_score if a < b else 1.0 - left_score
        totals[q] += 1.0
    return wins, totals


def next_adaptive_item(study: Study, votes: pd.DataFrame, annotator_id: str) -> NextItem:
    """The next item for ``annotator_id`` given every stored vote of the study.

    Args:
        study: an adaptive study.
        votes: the store's votes in logged order (:meth:`bench.votes.store.VoteStore.votes`:
            ``annotator_id``, ``item_id``, ``kind``, ``choice``, ``left_row``, ``right_row``).
        annotator_id: whose turn it is.
    """
    plan = annotator_plan(study, annotator_id)
    answered = [i for i in votes.loc[votes["annotator_id"] == annotator_id, "item_id"] if i is not None]
    done = len(answered)
    if done >= len(plan):
        return NextItem(None, done, len(plan))
    seen = set(answered)
    slot = plan[done]
    if slot not in (REGULAR_SLOT, SWAP_SLOT) and slot not in seen:
        return NextItem(slot, done, len(plan))
    if slot == SWAP_SLOT:
        twin_of = {item.gold_of: item.item_id for item in study.items if item.kind == "gold_swap"}
        recent = answered[max(0, done - SWAP_DISTANCE[1]): max(0, done - SWAP_DISTANCE[0] + 1)]
        for original in recent:
            twin = twin_of.get(original)
            if twin is not None and twin not in seen:
                return NextItem(twin, done, len(plan))
    # A regular slot (or a swap slot with nothing to repeat yet): the most informative pair.
    wins, totals = pair_counts(study, votes)
    i, j = all_pairs(len(study.rows))
    shown = votes.loc[votes["choice"] != "skip", "item_id"].value_counts()
    order = {item_id: k for k, item_id in enumerate(annotator_rng(study, annotator_id).permutation(
        [item.item_id for item in study.items if item.kind == "regular"]))}
    by_pair: dict[frozenset, list[str]] = {}
    for item in study.items:
        if item.kind == "regular" and item.item_id not in seen:
            by_pair.setdefault(frozenset((item.left_row, item.right_row)), []).append(item.item_id)
    for q in rank_pairs(wins, totals, len(study.rows), floor=study.floor):
        fresh = by_pair.get(frozenset((study.rows[i[q]], study.rows[j[q]])))
        if fresh:
            best = min(fresh, key=lambda item_id: (int(shown.get(item_id, 0)), order[item_id]))
            return NextItem(best, done, len(plan))
    return NextItem(None, done, len(plan))  # this annotator has seen every item of the study
