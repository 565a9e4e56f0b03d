# The two commands of the README:
#   make demo   — create .venv, install, run the lab demo
#   make test   — create .venv, install, run the test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup demo test lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[full,votes,ray,notebooks,dev]"
	touch $@

demo: setup
	$(VENV)/bin/fpbench demo

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check framepack baselines metrics bench tests
