"""Adapter from a grid's run store to study input: the finished videos as video records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.votes.study import VideoRecord

RECORD_SUFFIXES = (".csv", ".jsonl", ".parquet")


def grid_video_records(grid, store) -> list[VideoRecord]:
    """Video records of every finished run of a resolved grid.

    Args:
        grid: a :class:`bench.grid.ResolvedGrid`.
        store: the :class:`bench.run_store.RunStore` holding its runs.

    Returns:
        One record per done run whose ``video.mp4`` exists, reference rows left out; the prompt id carries the length
        name (``prompt@length``) so only videos of equal length are paired.
    """
    from bench.run_store import VIDEO_FILE

    records = []
    references = set(grid.reference_row_names)  # real clips and the static video are not voted on
    for run in grid.runs:
        if run.row_name in references or not store.status(run.key).done:
            continue
        video = store.path(run.key, VIDEO_FILE)
        if not video.is_file():
            continue
        records.append(VideoRecord(row=run.row_name, prompt_id=f"{run.prompt.id}@{run.length.name}",
                                   seed=run.seed, video=str(video), prompt=run.prompt.prompt))
    return records


def read_video_records(path: str | Path) -> list[VideoRecord]:
    """Video records from a table file (.csv, .jsonl, .parquet) with columns row, prompt_id, seed,
    video[, prompt]; relative video paths are taken relative to the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video list not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype={"row": str, "prompt_id": str, "video": str, "prompt": str})
    elif suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype={"row": str, "prompt_id": str})
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise ValueError(f"{path}: unknown video list type {suffix!r}; expected one of {RECORD_SUFFIXES}")
    missing = [c for c in ("row", "prompt_id", "seed", "video") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; expected row, prompt_id, seed, video[, prompt]")
    records = []
    for rec in frame.to_dict("records"):
        video = Path(str(rec["video"]))
        if not video.is_absolute():
            video = path.parent / video
        prompt = rec.get("prompt", "")
        records.append(VideoRecord(row=str(rec["row"]), prompt_id=str(rec["prompt_id"]), seed=int(rec["seed"]),
                                   video=str(video), prompt="" if pd.isna(prompt) else str(prompt)))
    return records
