"""Rows whose Bradley–Terry interval would mislead: too few votes, or votes the bootstrap cannot vary.

The bootstrap resamples a row's own votes. With one vote, or with every vote the same outcome
(all won, all lost, all tied), every resample is identical and the interval has zero width — set
by the regularising prior, not by the data. Such rows get no interval and a note saying why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_MIN_BATTLES = 10


def interval_notes(board: pd.DataFrame, min_battles: int = DEFAULT_MIN_BATTLES) -> pd.Series:
    """Why each row's interval is undefined ("" when it is fine).

    Args:
        board: one row per model with ``battles``, ``wins``, ``ties``, ``losses``, ``bt_lower``,
            ``bt_upper`` (bounds NaN when no bootstrap ran).
        min_battles: fewest votes a row needs for an interval.
    """
    notes = []
    for row in board.itertuples():
        n = int(row.battles)
        votes = f"{n} vote" + ("" if n == 1 else "s")
        if n < min_battles:
            notes.append(f"{votes}, fewer than the {min_battles} an interval needs")
        elif row.wins == n or row.losses == n or row.ties == n:
            outcome = "won" if row.wins == n else "lost" if row.losses == n else "tied"
            notes.append(f"{outcome} all {votes}: the bootstrap cannot vary them, the rating rests on the prior")
        elif np.isfinite(row.bt_lower) and np.isfinite(row.bt_upper) and row.bt_upper - row.bt_lower < 1e-9:
            notes.append("zero-width bootstrap interval: every resample gave the same rating")
        else:
            notes.append("")
    return pd.Series(notes, index=board.index, name="interval_note", dtype=object)
