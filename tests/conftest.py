"""Shared fixtures. Tests never touch the network: the hub is offline and models are built here."""

import os

from tests.support import PROJECT_ROOT, ray_tmpdir

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
WORK_DIR = PROJECT_ROOT / ".tmp"
WORK_DIR.mkdir(exist_ok=True)
os.environ.setdefault("RAY_TMPDIR", ray_tmpdir("ray"))

import pytest  # noqa: E402

from tests.support import make_tiny_bert, make_tiny_har_model, make_tiny_price_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_price_dir(tmp_path_factory):
    return make_tiny_price_model(tmp_path_factory.mktemp("tiny-price"))


@pytest.fixture(scope="session")
def tiny_har_dir(tmp_path_factory):
    return make_tiny_har_model(tmp_path_factory.mktemp("tiny-har"))
