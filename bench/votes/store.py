"""The vote store: SQLite in WAL mode, one row per vote, safe for many concurrent annotators.

Every write is one short IMMEDIATE transaction with ``synchronous=FULL``, so a vote the server
acknowledged survives a crash or a kill. A client-chosen ``vote_id`` makes retries idempotent:
the same id with the same content returns the stored vote; with other content it is a conflict.
Tokens are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.votes.study import StudyItem

CHOICES = ("left", "right", "tie", "both_bad", "skip")
WINNER_OF_CHOICE = {"left": "model_a", "right": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
CHOICE_OF_WINNER = {v: k for k, v in WINNER_OF_CHOICE.items()}

SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators (
    annotator_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT UNIQUE,
    created REAL NOT NULL,
    simulated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS votes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    vote_id TEXT NOT NULL UNIQUE,
    annotator_id TEXT NOT NULL REFERENCES annotators(annotator_id),
    item_id TEXT,
    kind TEXT NOT NULL DEFAULT 'regular',
    choice TEXT NOT NULL,
    left_row TEXT NOT NULL,
    right_row TEXT NOT NULL,
    prompt_id TEXT,
    seed INTEGER,
    gold_of TEXT,
    expected_side TEXT,
    a_on_left INTEGER,
    watch_ms INTEGER,
    tstamp REAL NOT NULL,
    simulated INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT 'server',
    UNIQUE (annotator_id, item_id)
);
"""


class VoteConflict(ValueError):
    """A vote id was reused with different content, or an annotator voted twice on one item."""


@dataclass(frozen=True)
class Annotator:
    annotator_id: str
    name: str
    simulated: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VoteStore:
    """Votes and annotators of one study, in one SQLite file (WAL journal).

    Args:
        path: the database file (created with its schema if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- annotators ---------------------------------------------------------------------------

    def add_annotator(self, name: str, simulated: bool = False, with_token: bool = True) -> tuple[Annotator, str | None]:
        """Register an annotator and return it with its new token (shown once, stored hashed).

        Raises:
            ValueError: the name is empty, too long, or already taken.
        """
        if not name or len(name) > 64 or not name.isprintable():
            raise ValueError(f"annotator name must be 1-64 printable characters, got {name!r}")
        token = secrets.token_urlsafe(24) if with_token else None
        annotator = Annotator(annotator_id=secrets.token_hex(8), name=name, simulated=simulated)
        db = self._connect()
        try:
            db.execute(
                "INSERT INTO annotators VALUES (?, ?, ?, ?, ?)",
                (annotator.annotator_id, name, hash_token(token) if token else None, time.time(), int(simulated)),
            )
        except sqlite3.IntegrityError as error:
            raise ValueError(f"annotator {name!r} already exists in this study") from error
        return annotator, token

    def annotator_by_name(self, name: str) -> Annotator | None:
        row = self._connect().execute("SELECT * FROM annotators WHERE name = ?", (name,)).fetchone()
        return Annotator(row["annotator_id"], row["name"], bool(row["simulated"])) if row else None

    def annotator_for_token(self, token: str | None) -> Annotator | None:
        """The annotator a token belongs to, or None (constant-time hash lookup)."""
        if not token or len(token) > 128:
            return None
        row = self._connect().execute(
            "SELECT * FROM annotators WHERE token_hash = ?", (hash_token(token),)
        ).fetchone()
        return Annotator(row["annotator_id"], row["name"], bool(row["simulated"])) if row else None

    # -- votes --------------------------------------------------------------------------------

    def record_vote(
        self,
        vote_id: str,
        annotator: Annotator,
        item: StudyItem,
        choice: str,
        watch_ms: int | None = None,
        tstamp: float | None = None,
        simulated: bool = False,
    ) -> tuple[bool, dict]:
        """Store one vote; returns (created, stored row). A retry with the same content is not a new row.

        Raises:
            ValueError: unknown choice.
            VoteConflict: the vote id exists with other content, or the annotator already voted
                on this item under another vote id.
        """
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, got {choice!r}")
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            existing = db.execute("SELECT * FROM votes WHERE vote_id = ?", (vote_id,)).fetchone()
            if existing is not None:
                db.execute("COMMIT")
                same = (existing["annotator_id"], existing["item_id"], existing["choice"]) == (
                    annotator.annotator_id, item.item_id, choice)
                if not same:
                    raise VoteConflict(f"vote id {vote_id!r} was already used for a different vote")
                return False, dict(existing)
            try:
                db.execute(
                    "INSERT INTO votes (vote_id, annotator_id, item_id, kind, choice, left_row, right_row, "
                    "prompt_id, seed, gold_of, expected_side, a_on_left, watch_ms, tstamp, simulated, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 'server')",
                    (vote_id, annotator.annotator_id, item.item_id, item.kind, choice, item.left_row,
                     item.right_row, item.prompt_id, item.seed, item.gold_of, item.expected_side, watch_ms,
                     time.time() if tstamp is None else tstamp, int(simulated or annotator.simulated)),
                )
            except sqlite3.IntegrityError as error:
                db.execute("ROLLBACK")
                raise VoteConflict(
                    f"annotator {annotator.name!r} already voted on item {item.item_id}"
                ) from error
            row = db.execute("SELECT * FROM votes WHERE vote_id = ?", (vote_id,)).fetchone()
            db.execute("COMMIT")
            return True, dict(row)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def answered_items(self, annotator_id: str) -> set[str]:
        rows = self._connect().execute(
            "SELECT item_id FROM votes WHERE annotator_id = ? AND item_id IS NOT NULL", (annotator_id,)
        ).fetchall()
        return {r["item_id"] for r in rows}

    def import_battle(self, row: dict, source: str) -> bool:
        """Store one imported vote (already in battle shape); returns False if its vote id exists.

        Imported rows keep model_a in ``left_row`` and model_b in ``right_row``; ``a_on_left``
        (NULL when unknown) says which one was actually shown on the left.
        """
        judge = str(row.get("judge") or "unknown")
        simulated = bool(row.get("simulated", False))
        annotator = self.annotator_by_name(judge)
        if annotator is None:
            annotator, _ = self.add_annotator(judge, simulated=simulated, with_token=False)
        a_on_left = row.get("a_on_left")
        values = (
            str(row["vote_id"]), annotator.annotator_id, row.get("item_id"), row.get("kind") or "regular",
            CHOICE_OF_WINNER[row["winner"]], str(row["model_a"]), str(row["model_b"]), row.get("prompt_id"),
            None if row.get("seed") is None else int(row["seed"]), row.get("gold_of"),
            {"model_a": "left", "model_b": "right"}.get(row.get("expected_winner")),
            None if a_on_left is None else int(bool(a_on_left)), None, float(row["tstamp"]), int(simulated), source,
        )
        db = self._connect()
        try:
            db.execute(
                "INSERT INTO votes (vote_id, annotator_id, item_id, kind, choice, left_row, right_row, prompt_id, "
                "seed, gold_of, expected_side, a_on_left, watch_ms, tstamp, simulated, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        except sqlite3.IntegrityError:
            return False
        return True

    def annotators(self) -> pd.DataFrame:
        """Every annotator (id, name, simulated, created), in order of invitation; never the token hash."""
        return pd.read_sql_query(
            "SELECT annotator_id, name, simulated, created FROM annotators ORDER BY created", self._connect()
        )

    def votes(self) -> pd.DataFrame:
        """Every stored vote (skips included) joined with its annotator, in logged order."""
        query = (
            "SELECT v.*, a.name AS judge, a.simulated AS annotator_simulated FROM votes v "
            "JOIN annotators a USING (annotator_id) ORDER BY v.seq"
        )
        return pd.read_sql_query(query, self._connect())


def votes_to_battles(votes: pd.DataFrame) -> pd.DataFrame:
    """Stored votes → the battles table of :mod:`bench.ratings` (skips dropped).

    model_a is the row shown on the left (``a_on_left``), winner is mapped from the choice, gold
    rows keep their kind, and ``expected_winner`` says what a broken-video gold item must get.
    """
    kept = votes[votes["choice"] != "skip"]
    expected = kept["expected_side"].map({"left": "model_a", "right": "model_b"})
    simulated = kept["simulated"].astype(bool) | kept.get("annotator_simulated", 0).astype(bool)
    a_on_left = kept["a_on_left"].map({1: True, 0: False}).astype("boolean")
    return pd.DataFrame({
        "vote_id": kept["vote_id"],
        "model_a": kept["left_row"],
        "model_b": kept["right_row"],
        "winner": kept["choice"].map(WINNER_OF_CHOICE),
        "judge": kept["judge"],
        "tstamp": kept["tstamp"].astype(float),
        "a_on_left": a_on_left,
        "kind": kept["kind"],
        "item_id": kept["item_id"],
        "gold_of": kept["gold_of"],
        "expected_winner": expected,
        "prompt_id": kept["prompt_id"],
        "seed": kept["seed"],
        "simulated": simulated,
    }).reset_index(drop=True)
