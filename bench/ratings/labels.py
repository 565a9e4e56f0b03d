"""The one wording for ratings that come from simulated judges, shared by tables, reports and figures."""

SIMULATED_TITLE = "SIMULATED judges — not human votes"
