"""A grid's saved results, read back from results/<grid>/ (what `fpbench table` / `fpbench demo` write).

Everything here reads files only: the tables' long form (summary.parquet), one score and drift per
(run, metric) (scores.parquet), every stored per-unit value (values.parquet), and, when a rating round
exists, ratings/ (ratings.parquet, pairs.parquet, battles.parquet, elo_permutations.parquet,
bt_bootstrap.parquet, summary.json). Notebooks and figures work from these, so a fresh clone with the
committed results/demo/ needs no run store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REQUIRED_FILES = ("summary.parquet", "scores.parquet", "values.parquet")
RATING_FILES = ("ratings", "pairs", "battles", "elo_permutations", "bt_bootstrap")


class ResultsNotFoundError(FileNotFoundError):
    """A results folder lacks the files `fpbench table` writes."""


@dataclass
class ResultsFolder:
    """The files of one results/<grid>/ folder, loaded with pandas.

    Attributes:
        path: the folder.
        summary: the table in long form (length, row, column, metric, kind, direction, mean, ci_low,
            ci_high, n, best, simulated).
        scores: one row per (run, metric): row, prompt, seed, length, key, metric, score, drift
            (fractions, as measured).
        values: every per-unit value (video = run key, metric, backend, version, kind, index, value,
            row, prompt, seed, length).
        ratings: table name -> DataFrame for the files present under ratings/ (may be empty).
        rating_summary: ratings/summary.json, or {}.
    """

    path: Path
    summary: pd.DataFrame
    scores: pd.DataFrame
    values: pd.DataFrame
    ratings: dict[str, pd.DataFrame] = field(default_factory=dict)
    rating_summary: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def rows(self) -> list[str]:
        """Row names in table order."""
        return list(dict.fromkeys(self.summary["row"]))

    @property
    def lengths(self) -> list[str]:
        return list(dict.fromkeys(self.summary["length"]))

    @property
    def directions(self) -> dict[str, str]:
        """metric -> "higher" | "lower" for the global (non-drift) columns."""
        part = self.summary[self.summary["kind"] == "global"]
        return dict(zip(part["metric"], part["direction"], strict=True))

    @property
    def drift_metrics(self) -> list[str]:
        """Metrics with a drift (Δ) column, in table order."""
        return list(dict.fromkeys(self.summary.loc[self.summary["kind"] == "drift", "metric"]))

    @property
    def has_ratings(self) -> bool:
        return "ratings" in self.ratings and len(self.ratings["ratings"]) > 0

    @property
    def simulated_ratings(self) -> bool:
        """True when any vote behind the ratings came from simulated judges."""
        board = self.ratings.get("ratings")
        return bool(board is not None and "simulated" in board and board["simulated"].any())


def load_results(path: str | Path) -> ResultsFolder:
    """Read results/<grid>/ (a folder written by `fpbench table` or `fpbench demo`).

    Args:
        path: the folder, e.g. "results/demo".

    Raises:
        ResultsNotFoundError: the folder or one of summary/scores/values.parquet is missing; the
            message says which command writes it.
    """
    folder = Path(path)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ResultsNotFoundError(
            f"results folder {str(folder)!r} lacks {', '.join(missing)}; write it with "
            f"`fpbench table GRID --results {folder.parent}` (or `fpbench demo`) first"
        )
    ratings = {}
    for name in RATING_FILES:
        file = folder / "ratings" / f"{name}.parquet"
        if file.is_file():
            ratings[name] = pd.read_parquet(file)
    summary_file = folder / "ratings" / "summary.json"
    rating_summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return ResultsFolder(
        path=folder,
        summary=pd.read_parquet(folder / "summary.parquet"),
        scores=pd.read_parquet(folder / "scores.parquet"),
        values=pd.read_parquet(folder / "values.parquet"),
        ratings=ratings,
        rating_summary=rating_summary,
    )
