"""Blind A/B human evaluation: studies, invites, the vote store and server, export/import,
and simulated judges (always labelled simulated). Ratings live in :mod:`bench.ratings`."""
