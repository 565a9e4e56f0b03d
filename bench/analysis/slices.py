"""Slices of a grid's scores: one metric's mean per row and per prompt, seed or length."""

from __future__ import annotations

import pandas as pd

SLICE_COLUMNS = ("prompt", "seed", "length")


def slice_table(scores: pd.DataFrame, metric: str, by: str, value: str = "score", scale: float = 100.0) -> pd.DataFrame:
    """Rows × values of `by` (prompt, seed or length): mean of `value` over the remaining items.

    Args:
        scores: scores.parquet.
        metric: the metric to slice.
        by: "prompt", "seed" or "length".
        value: "score" or "drift".
        scale: multiplier (100 shows fractions in percent, as the tables do; 1 keeps raw values).

    Returns:
        DataFrame indexed by row (table order), one column per slice value.
    """
    if by not in SLICE_COLUMNS:
        raise ValueError(f"cannot slice by {by!r}; expected one of {SLICE_COLUMNS}")
    if value not in ("score", "drift"):
        raise ValueError(f"value must be 'score' or 'drift', got {value!r}")
    part = scores[scores["metric"] == metric]
    if part.empty:
        raise ValueError(f"no scores for metric {metric!r}; metrics: {sorted(set(scores['metric']))}")
    rows = list(dict.fromkeys(part["row"]))
    table = part.pivot_table(index="row", columns=by, values=value, aggfunc="mean") * scale
    return table.reindex(rows)
