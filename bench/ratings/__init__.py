"""Ratings from A/B votes: pure functions over a battles table (see :mod:`bench.ratings.battles`).

Entry points: :func:`compute_ratings` (everything `fpbench rate` reports) and
:func:`write_report` (parquet, markdown, figures). The building blocks — :func:`online_elo`,
:func:`elo_over_permutations`, :func:`fit_bradley_terry`, ranks, matrices, agreement — are
exported for other tables and figures; :mod:`bench.ratings.adaptive_pairing` chooses the next pair
of an adaptive study from the votes so far.
"""

from bench.ratings.agreement import annotator_agreement, gold_accuracy
from bench.ratings.battles import WINNERS, BattlesError, count_pairs, normalize_battles, score_a
from bench.ratings.bradley_terry import BradleyTerryFit, fit_bradley_terry
from bench.ratings.connectivity import comparison_components, is_connected
from bench.ratings.elo import elo_over_permutations, online_elo
from bench.ratings.krippendorff import krippendorff_alpha
from bench.ratings.matrices import (
    battle_count_matrix,
    left_side_win_rate,
    outcome_rates,
    per_annotator_counts,
    win_rate_matrix,
)
from bench.ratings.ranks import PAPER_TIE_BAND, rank_upper_bound, rank_with_tie_band
from bench.ratings.report import RatingConfig, RatingReport, compute_ratings, markdown_table, write_report

__all__ = [
    "WINNERS", "BattlesError", "BradleyTerryFit", "PAPER_TIE_BAND", "RatingConfig", "RatingReport",
    "annotator_agreement", "battle_count_matrix", "comparison_components", "compute_ratings",
    "count_pairs", "elo_over_permutations", "fit_bradley_terry", "gold_accuracy", "is_connected", "krippendorff_alpha",
    "left_side_win_rate", "markdown_table", "normalize_battles", "online_elo", "outcome_rates",
    "per_annotator_counts", "rank_upper_bound", "rank_with_tie_band", "score_a", "win_rate_matrix",
    "write_report",
]
