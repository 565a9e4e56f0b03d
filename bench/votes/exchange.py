"""Export and import of votes: jsonl, csv (every battle column) and FastChat's battle shape.

FastChat shape: a JSON list of ``{"model_a", "model_b", "winner", "judge", "tstamp"}`` with winner
in ``model_a | model_b | tie | tie (bothbad)`` (plus ``anony`` and ``simulated``); only regular
battles are exported in it, since gold items are quality control, not comparisons.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from bench.atomic_files import atomic_write_text
from bench.ratings.battles import normalize_battles
from bench.votes.store import VoteStore, votes_to_battles
from bench.votes.study import DB_FILE, STUDY_FILE

FORMATS = ("jsonl", "csv", "fastchat")
FASTCHAT_COLUMNS = ["model_a", "model_b", "winner", "judge", "tstamp"]


def study_battles(study_dir: str | Path) -> pd.DataFrame:
    """Every non-skip vote of a study folder as a battles table (gold rows included, labelled)."""
    study_dir = Path(study_dir)
    if not (study_dir / STUDY_FILE).is_file():
        raise FileNotFoundError(f"no study at {study_dir}: {STUDY_FILE} is missing")
    if not (study_dir / DB_FILE).is_file():
        raise FileNotFoundError(f"study {study_dir} has no votes yet ({DB_FILE} is missing)")
    store = VoteStore(study_dir / DB_FILE)
    try:
        return votes_to_battles(store.votes())
    finally:
        store.close()


def _plain(value):
    if value is pd.NA or (isinstance(value, float) and pd.isna(value)) or value is None:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def export_battles(battles: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write battles to ``path`` in ``fmt`` (jsonl | csv | fastchat), atomically.

    Raises:
        ValueError: unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    path = Path(path)
    if fmt == "csv":
        atomic_write_text(path, battles.to_csv(index=False))
    elif fmt == "jsonl":
        lines = [json.dumps({k: _plain(v) for k, v in row.items()}) for row in battles.to_dict("records")]
        atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    else:
        regular = battles[battles.get("kind", "regular") == "regular"] if "kind" in battles else battles
        records = []
        for row in regular.to_dict("records"):
            record = {k: _plain(row[k]) for k in FASTCHAT_COLUMNS}
            record["anony"] = True
            record["simulated"] = bool(_plain(row.get("simulated", False)))
            records.append(record)
        atomic_write_text(path, json.dumps(records, indent=1))
    return path


def _row_id(row: dict, position: int) -> str:
    content = json.dumps([position, *(str(row.get(k)) for k in FASTCHAT_COLUMNS)])
    return "imp-" + hashlib.sha256(content.encode()).hexdigest()[:32]


def read_battles(path: str | Path) -> pd.DataFrame:
    """Read battles from an exported file: ``.jsonl``, ``.csv``, ``.json`` (FastChat list) or ``.parquet``.

    Rows lacking a ``vote_id`` get one derived from their content and position, so importing the
    same file twice stores nothing new.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown extension or rows not in the battle shape.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"votes file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype=False)
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype={"item_id": "string", "gold_of": "string", "prompt_id": "string"})
    elif suffix == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of battles (FastChat shape), got {type(data).__name__}")
        frame = pd.DataFrame(data)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise ValueError(f"{path}: unknown votes file type {suffix!r}; expected .jsonl, .csv, .json or .parquet")
    if frame.empty:
        raise ValueError(f"{path} holds no battles")
    if "vote_id" not in frame.columns:
        frame["vote_id"] = [_row_id(row, k) for k, row in enumerate(frame.to_dict("records"))]
    for column in ("item_id", "gold_of", "expected_winner", "prompt_id"):
        if column in frame.columns:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if "tstamp" not in frame.columns:
        frame["tstamp"] = range(len(frame))
    normalized = normalize_battles(frame)
    return normalized


def import_battles(study_dir: str | Path, path: str | Path) -> tuple[int, int]:
    """Import a votes file into a study's store; returns (stored, already present)."""
    battles = read_battles(path)
    store = VoteStore(Path(study_dir) / DB_FILE)
    stored = present = 0
    try:
        for row in battles.to_dict("records"):
            clean = {k: _plain(v) for k, v in row.items()}
            if store.import_battle(clean, source=f"import:{Path(path).name}"):
                stored += 1
            else:
                present += 1
    finally:
        store.close()
    return stored, present
