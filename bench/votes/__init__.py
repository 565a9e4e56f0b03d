"""Blind A/B human evaluation: studies, invites, the vote store and server, export/import,
and simulated judges (always labelled simulated). Ratings live in :mod:`bench.ratings`.

The web app (:mod:`bench.votes.app`) needs the ``votes`` extra (FastAPI, uvicorn) and is not
imported here, so studies, the store and simulated judges work without it.
"""

from bench.votes.exchange import export_battles, import_battles, read_battles, study_battles
from bench.votes.simulate import simulate_battles, simulate_study_votes, strengths_from_scores
from bench.votes.store import VoteStore, votes_to_battles
from bench.votes.study import (
    Study,
    StudyItem,
    VideoRecord,
    annotator_queue,
    create_study_from_videos,
    load_study,
)

__all__ = [
    "Study", "StudyItem", "VideoRecord", "VoteStore", "annotator_queue", "create_study_from_videos",
    "export_battles", "import_battles", "load_study", "read_battles", "simulate_battles",
    "simulate_study_votes", "strengths_from_scores", "study_battles", "votes_to_battles",
]
