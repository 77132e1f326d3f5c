# Two commands on a fresh machine: `make serve` (install, then run the graph) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Ray 2.60 turns token auth on by default; local development and tests run without it.
export RAY_AUTH_MODE ?= disabled

.PHONY: install services serve test test-slow browser proto

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build where a CPU one is wanted.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,report,postgres]"
	touch $@

install: $(VENV)/.installed

# PostgreSQL and Prometheus from Debian's packages: the tests start throwaway servers of both
# (and skip, saying why, where they are absent). Installs only what is missing; needs root.
services:
	@if command -v prometheus >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql prometheus; \
	else echo "make services: not root; install postgresql and prometheus with apt-get (their tests skip until then)"; fi

# Serve's throughput-optimised request path (one event loop per replica, gRPC between
# deployments), with logs still on stderr and without direct ingress (see the README's Performance).
export RAY_SERVE_THROUGHPUT_OPTIMIZED ?= 1
export RAY_SERVE_LOG_TO_STDERR ?= 1
export RAY_SERVE_ENABLE_DIRECT_INGRESS ?= 0
# Serve's gRPC proxy (when a serve config turns it on) reads no message over 4 MB, HTTP's body
# limit (Ray's default is 2 GiB); the ingress then applies ingress.limits.max_body_bytes.
export RAY_SERVE_GRPC_MAX_MESSAGE_SIZE ?= 4000000

serve: install
	$(VENV)/bin/serve run serve_config.yaml

# The gRPC API's Python code from its published definition (tests/code/test_proto.py checks
# that the committed code is what this generates).
proto: install
	$(PY) -m deployments.proto.generate

test: install services
	$(PY) -m pytest

test-slow: install services
	$(PY) -m pytest -m slow

# Headless Chromium (Debian's package) for the browser test of the operator page; .ci/run calls it.
# Without it that test skips, saying so. Installing needs root (apt-get).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } || \
	  { echo "make browser: could not install chromium (run as root with apt-get, or install it yourself)"; exit 1; }
