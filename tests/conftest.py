"""Shared fixtures. Tests never touch the network: the hub is offline and models are built here;
PostgreSQL is a throwaway server on loopback, one per session."""

import os

from tests.support import PROJECT_ROOT, ray_tmpdir, serve_settings_for_the_cluster

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
WORK_DIR = PROJECT_ROOT / ".tmp"
WORK_DIR.mkdir(exist_ok=True)
os.environ.setdefault("RAY_TMPDIR", ray_tmpdir("ray"))
serve_settings_for_the_cluster()  # the session's Ray runs the graph as `make serve` does

import pytest  # noqa: E402

from store.store import sqlite_url  # noqa: E402
from tests.services import ServiceUnavailable, postgres_server  # noqa: E402
from tests.support import make_tiny_bert, make_tiny_har_model, make_tiny_price_model  # noqa: E402

STORE_DIALECTS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_price_dir(tmp_path_factory):
    return make_tiny_price_model(tmp_path_factory.mktemp("tiny-price"))


@pytest.fixture(scope="session")
def tiny_har_dir(tmp_path_factory):
    return make_tiny_har_model(tmp_path_factory.mktemp("tiny-har"))


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (skips where Debian's package is not installed)."""
    try:
        with postgres_server() as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=STORE_DIALECTS)
def store_url(request, tmp_path):
    """A fresh, empty store of each dialect."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("postgres").new_database()
