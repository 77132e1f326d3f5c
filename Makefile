# Two commands on a fresh machine: `make serve` (install, then run the graph) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Ray 2.60 turns token auth on by default; local development and tests run without it.
export RAY_AUTH_MODE ?= disabled

.PHONY: install serve test test-slow

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build where a CPU one is wanted.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,report]"
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/serve run serve_config.yaml

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow
