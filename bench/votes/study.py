"""A study: the blind, balanced list of A/B items built from a grid's finished videos.

Input is a plain list of video records (row name, prompt id, seed, video path, prompt). Pairs are
drawn across rows on the same prompt and seed; sides are randomised and recorded; ids are blind
(random hex that reveal neither row nor file). Gold items are mixed in: a pair where one side is
a deliberately broken copy of a video, and a regular pair repeated with its sides swapped.

Two pairings decide which pairs an annotator sees:

- ``round-robin`` (default, the paper's protocol): rounds that cover every row pair once, until
  every row has at least ``per_row`` assessments; each annotator walks all of them.
- ``adaptive``: the study holds every (row pair, prompt, seed) item, and each annotator's next
  item is chosen from the votes so far by :mod:`bench.votes.adaptive_queue` — the pair whose
  vote most reduces the ranking's uncertainty, after a floor of votes per row. An annotator
  answers as many regular items as a round-robin study would hold.

A study folder holds ``study.json`` (this file's data), ``media/`` (the broken copies) and, once
served, ``votes.sqlite``. The media registry maps a blind media id to a file; the server serves
media only through this registry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

STUDY_FILE = "study.json"
MEDIA_DIR = "media"
DB_FILE = "votes.sqlite"
KINDS = ("regular", "gold_broken", "gold_swap")
PAIRINGS = ("round-robin", "adaptive")
DEFAULT_FLOOR = 10
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
STUDY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StudyError(ValueError):
    """A study cannot be built or loaded from what was given."""


@dataclass(frozen=True)
class VideoRecord:
    """One finished video of a grid."""

    row: str
    prompt_id: str
    seed: int
    video: str
    prompt: str = ""


@dataclass(frozen=True)
class StudyItem:
    """One A/B comparison as an annotator sees it (blind ids, sides fixed)."""

    item_id: str
    kind: str  # regular | gold_broken | gold_swap
    prompt_id: str
    seed: int
    prompt: str
    left_row: str
    right_row: str
    left_media: str
    right_media: str
    gold_of: str | None = None  # gold_swap: the regular item repeated with sides swapped
    expected_side: str | None = None  # gold_broken: "left" | "right", the intact video


@dataclass
class Study:
    """A built study. ``media`` maps blind media id → file path (relative paths are inside the study)."""

    name: str
    seed: int
    per_row: int
    rows: list[str]
    items: list[StudyItem]
    media: dict[str, str]
    directory: Path | None = field(default=None, compare=False)
    pairing: str = "round-robin"
    floor: int = 0  # adaptive: votes every row gets before the adaptive rule takes over
    swap_slots: int = 0  # adaptive: swapped repeats each annotator is shown

    @property
    def regular_per_annotator(self) -> int:
        """Regular items each annotator answers: a round-robin study's whole list of pairs."""
        n = len(self.rows)
        return math.ceil(self.per_row / (n - 1)) * (n * (n - 1) // 2)

    @property
    def item_by_id(self) -> dict[str, StudyItem]:
        return {item.item_id: item for item in self.items}

    def media_path(self, media_id: str) -> Path:
        """The file behind a media id; raises KeyError for anything not in the registry."""
        if not ID_PATTERN.fullmatch(media_id) or media_id not in self.media:
            raise KeyError(media_id)
        path = Path(self.media[media_id])
        if not path.is_absolute():
            if self.directory is None:
                raise KeyError(media_id)
            path = self.directory / path
        return path

    def assessments_per_row(self) -> dict[str, int]:
        """How many regular items each row appears in (the paper asks ≥ 100).

        For an adaptive study these are the items it can offer (every pair once per prompt and
        seed); how often each row is shown depends on the votes.
        """
        count: Counter[str] = Counter()
        for item in self.items:
            if item.kind == "regular":
                count[item.left_row] += 1
                count[item.right_row] += 1
        return {row: count[row] for row in self.rows}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "seed": self.seed,
            "per_row": self.per_row,
            "rows": self.rows,
            "items": [asdict(item) for item in self.items],
            "media": self.media,
            "pairing": self.pairing,
            "floor": self.floor,
            "swap_slots": self.swap_slots,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``study.json`` atomically into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".study.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.to_json(), handle, indent=1)
        os.replace(tmp, directory / STUDY_FILE)
        self.directory = directory
        return directory / STUDY_FILE


def load_study(directory: str | Path) -> Study:
    """Load a study folder written by :func:`create_study_from_videos`.

    Raises:
        FileNotFoundError: the folder has no ``study.json``.
        StudyError: the file is not a study.
    """
    directory = Path(directory)
    path = directory / STUDY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no study at {directory}: {STUDY_FILE} is missing (create one with "
                                "`fpbench votes create-study`)")
    try:
        data = json.loads(path.read_text())
        items = [StudyItem(**item) for item in data["items"]]
        study = Study(name=data["name"], seed=int(data["seed"]), per_row=int(data["per_row"]),
                      rows=list(data["rows"]), items=items, media=dict(data["media"]), directory=directory,
                      pairing=str(data.get("pairing", "round-robin")), floor=int(data.get("floor", 0)),
                      swap_slots=int(data.get("swap_slots", 0)))
    except (KeyError, TypeError, ValueError) as error:
        raise StudyError(f"{path} is not a valid study file: {error}") from error
    if study.pairing not in PAIRINGS:
        raise StudyError(f"{path} names pairing {study.pairing!r}; expected one of {list(PAIRINGS)}")
    return study


def _records(records: Iterable[VideoRecord | Mapping] | pd.DataFrame) -> list[VideoRecord]:
    if isinstance(records, pd.DataFrame):
        records = records.to_dict("records")
    out = []
    for k, rec in enumerate(records):
        if isinstance(rec, VideoRecord):
            out.append(rec)
            continue
        missing = [key for key in ("row", "prompt_id", "seed", "video") if key not in rec]
        if missing:
            raise StudyError(f"video record {k} lacks {missing}; expected row, prompt_id, seed, video[, prompt]")
        prompt = rec.get("prompt", "")
        out.append(VideoRecord(row=str(rec["row"]), prompt_id=str(rec["prompt_id"]), seed=int(rec["seed"]),
                               video=str(rec["video"]), prompt="" if pd.isna(prompt) else str(prompt)))
    return out


def _blind_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        value = rng.bytes(8).hex()
        if value not in taken:
            taken.add(value)
            return value


def create_study_from_videos(
    records: Iterable[VideoRecord | Mapping] | pd.DataFrame,
    name: str,
    per_row: int = 100,
    seed: int = 0,
    directory: str | Path | None = None,
    gold_broken: int | None = None,
    gold_swap: int | None = None,
    pairing: str = "round-robin",
    floor: int | None = None,
) -> Study:
    """Build a blind study from finished videos.

    Args:
        records: video records with ``row``, ``prompt_id``, ``seed``, ``video`` (path) and
            optionally ``prompt`` (records, dicts or a DataFrame).
        name: study name (letters, digits, ``.``, ``_``, ``-``).
        per_row: minimum assessments (regular items) per row; the paper uses 100.
        seed: seed of pairing, sides and ids (the study is deterministic under it).
        directory: if given, the study is saved there and broken gold videos are written to
            ``directory/media``; without it no gold_broken items are made.
        gold_broken: number of broken-video gold items (default: 5 % of regular items, ≥ 1).
        gold_swap: number of swapped repeats (default: 5 % of regular items, ≥ 1); for an adaptive
            study, the swapped repeats each annotator is shown.
        pairing: "round-robin" (balanced rounds of every row pair) or "adaptive" (the next pair
            from the votes so far; see the module docstring).
        floor: adaptive only: votes every row gets before the adaptive rule takes over
            (default: ``DEFAULT_FLOOR`` or ``per_row`` if smaller).

    Raises:
        StudyError: fewer than two rows, a row pair that shares no (prompt, seed), a duplicate
            video for one (row, prompt, seed), a bad name, pairing or floor, or a missing video file.
    """
    if not STUDY_NAME_PATTERN.fullmatch(name):
        raise StudyError(f"study name {name!r} is not allowed; use letters, digits, '.', '_' or '-' (≤ 64)")
    if per_row < 1:
        raise StudyError(f"per_row must be >= 1, got {per_row}")
    if pairing not in PAIRINGS:
        raise StudyError(f"pairing {pairing!r} is not known; expected one of {list(PAIRINGS)}")
    if floor is None:
        floor = min(DEFAULT_FLOOR, per_row)
    if not 0 <= floor <= per_row:
        raise StudyError(f"floor must be between 0 and per_row ({per_row}), got {floor}: it is the votes every "
                         "row gets before adaptive pairing starts")
    videos = _records(records)
    rows = list(dict.fromkeys(rec.row for rec in videos))
    if len(rows) < 2:
        raise StudyError(f"a study needs videos of at least two rows, got rows {rows}")
    by_key: dict[tuple[str, int], dict[str, VideoRecord]] = {}
    for rec in videos:
        if not Path(rec.video).is_file():
            raise FileNotFoundError(f"video of row {rec.row!r}, prompt {rec.prompt_id!r}, seed {rec.seed} "
                                    f"not found: {rec.video}")
        slot = by_key.setdefault((rec.prompt_id, rec.seed), {})
        if rec.row in slot:
            raise StudyError(f"row {rec.row!r} has two videos for prompt {rec.prompt_id!r}, seed {rec.seed}")
        slot[rec.row] = rec
    keys = sorted(by_key)

    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    media: dict[str, str] = {}
    media_of: dict[tuple[str, str, int], str] = {}
    for rec in videos:
        media_id = _blind_id(rng, taken)
        media[media_id] = str(Path(rec.video).resolve())
        media_of[(rec.row, rec.prompt_id, rec.seed)] = media_id

    pairs = list(itertools.combinations(rows, 2))
    shared = {pair: [k for k in keys if pair[0] in by_key[k] and pair[1] in by_key[k]] for pair in pairs}
    uncovered = [pair for pair, ks in shared.items() if not ks]
    if uncovered:
        raise StudyError(f"row pair(s) {uncovered} share no (prompt, seed) video; every row pair must be comparable")

    def regular_item(pair: tuple[str, str], key: tuple[str, int]) -> StudyItem:
        left, right = (pair if rng.random() < 0.5 else pair[::-1])
        rec = by_key[key][left]
        return StudyItem(
            item_id=_blind_id(rng, taken), kind="regular", prompt_id=key[0], seed=key[1],
            prompt=rec.prompt or by_key[key][right].prompt, left_row=left, right_row=right,
            left_media=media_of[(left, *key)], right_media=media_of[(right, *key)],
        )

    rounds = math.ceil(per_row / (len(rows) - 1))
    items: list[StudyItem] = []
    if pairing == "adaptive":
        # Every pair on every shared (prompt, seed), once: the pool adaptive pairing picks from.
        items = [regular_item(pair, key) for pair in pairs for key in shared[pair]]
    else:
        used: Counter[tuple[tuple[str, str], tuple[str, int]]] = Counter()
        for _ in range(rounds):
            for p in rng.permutation(len(pairs)):
                pair = pairs[p]
                candidates = shared[pair]
                least = min(used[(pair, k)] for k in candidates)
                fresh = [k for k in candidates if used[(pair, k)] == least]
                key = fresh[rng.integers(len(fresh))]
                used[(pair, key)] += 1
                items.append(regular_item(pair, key))

    regular = list(items)
    default_gold = max(1, round(0.05 * rounds * len(pairs)))
    n_swap = default_gold if gold_swap is None else gold_swap
    n_broken = (default_gold if gold_broken is None else gold_broken) if directory is not None else 0
    if gold_broken and directory is None:
        raise StudyError("broken-video gold items need a study directory to write their videos into")
    # Adaptive: any pool item may be shown, so each gets its swapped twin; an annotator sees n_swap of them.
    swapped = range(len(regular)) if pairing == "adaptive" else \
        rng.choice(len(regular), size=min(n_swap, len(regular)), replace=False)
    for k in swapped:
        original = regular[k]
        items.append(StudyItem(
            item_id=_blind_id(rng, taken), kind="gold_swap", prompt_id=original.prompt_id, seed=original.seed,
            prompt=original.prompt, left_row=original.right_row, right_row=original.left_row,
            left_media=original.right_media, right_media=original.left_media, gold_of=original.item_id,
        ))
    if n_broken:
        from bench.votes.broken_video import write_broken_video

        media_dir = Path(directory) / MEDIA_DIR
        media_dir.mkdir(parents=True, exist_ok=True)
        for k in rng.choice(len(regular), size=min(n_broken, len(regular)), replace=False):
            original = regular[k]
            broken_side = "left" if rng.random() < 0.5 else "right"
            source_media = original.left_media if broken_side == "left" else original.right_media
            broken_id = _blind_id(rng, taken)
            write_broken_video(media[source_media], media_dir / f"{broken_id}.mp4", seed=int(rng.integers(2**31)))
            media[broken_id] = f"{MEDIA_DIR}/{broken_id}.mp4"
            items.append(StudyItem(
                item_id=_blind_id(rng, taken), kind="gold_broken", prompt_id=original.prompt_id,
                seed=original.seed, prompt=original.prompt, left_row=original.left_row,
                right_row=original.right_row,
                left_media=broken_id if broken_side == "left" else original.left_media,
                right_media=broken_id if broken_side == "right" else original.right_media,
                expected_side="right" if broken_side == "left" else "left",
            ))
    study = Study(name=name, seed=seed, per_row=per_row, rows=rows, items=items, media=media, pairing=pairing,
                  floor=floor if pairing == "adaptive" else 0, swap_slots=n_swap if pairing == "adaptive" else 0)
    if directory is not None:
        study.save(directory)
    return study


def annotator_rng(study: Study, annotator_id: str) -> np.random.Generator:
    """A random stream fixed by (study seed, annotator): an annotator's order survives restarts."""
    digest = hashlib.sha256(f"{study.seed}:{annotator_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def annotator_queue(study: Study, annotator_id: str) -> list[str]:
    """The item ids an annotator of a round-robin study is shown, in order (deterministic).

    Regular items come in an annotator-specific shuffled order (so annotators cover items evenly);
    broken-video gold items are spread at random positions; each swapped repeat comes 3–10 items
    after its original. (An adaptive study has no fixed queue: see :mod:`bench.votes.adaptive_queue`.)
    """
    if study.pairing != "round-robin":
        raise StudyError(f"study {study.name!r} uses {study.pairing} pairing: its items are chosen one at a "
                         "time from the votes (bench.votes.adaptive_queue), there is no fixed queue")
    rng = annotator_rng(study, annotator_id)
    regular = [item for item in study.items if item.kind == "regular"]
    queue = [regular[k].item_id for k in rng.permutation(len(regular))]
    for item in study.items:
        if item.kind == "gold_broken":
            queue.insert(int(rng.integers(len(queue) + 1)), item.item_id)
    for item in study.items:
        if item.kind == "gold_swap":
            position = queue.index(item.gold_of) + int(rng.integers(3, 11))
            queue.insert(min(position, len(queue)), item.item_id)
    return queue
