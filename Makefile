# The two commands of the README:
#   make demo   — create .venv, install, run the lab demo
#   make test   — create .venv, install, run the test suite
# `make study`: both paper tables at lab scale (results/paper-table1/, results/paper-table2/; resumable).
# and `make docs`: build the documentation site (mkdocs, --strict: a broken link fails).
PYTHON ?= python3.11
VENV ?= .venv
# Parallel runs for `make demo`: one per core (every executor gives the same frames; docs/reliability.md).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup demo study test lint docs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools
	$(PIP) install --quiet -e ".[full,votes,ray,notebooks,dev,paper-metrics,dlib]"
	# pyiqa / insightface declare heavy dependencies their metric paths never import (extra paper-metrics-nodeps).
	$(PIP) install --quiet --no-deps pyiqa==0.1.16 insightface==2.1
	# NIQE's published parameters, from basicsr's sdist on PyPI (Apache-2.0); not committed.
	$(PY) -m metrics.classical.niqe_params
	touch $@

demo: setup
	$(VENV)/bin/fpbench demo --jobs $(JOBS)

study: setup
	$(VENV)/bin/fpbench study --jobs $(JOBS)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check framepack baselines metrics bench tests

docs: setup
	$(VENV)/bin/mkdocs build --strict --site-dir site
