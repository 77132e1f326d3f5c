"""The order of undoing a promotion the graph could not follow, with the Serve REST calls
replaced: the served runs are in tests/serve/test_serve_run.py."""

import pytest

from models.registry import ModelRegistry
from tests.support import make_tiny_price_model
from training import promotion
from training.promotion import PromotionFailed, promote_and_follow

PINNED = {"name": "Price", "user_config": {"model_dir": "/registry/versions/v1"}}


@pytest.fixture
def registry(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    for version in ("v1", "v2"):
        registry.publish(make_tiny_price_model(tmp_path / version, version), version)
    registry.promote("v1")
    return registry


def follow(monkeypatch, registry, fail_send=None, fail_wait=None, before=PINNED):
    """Promote v2 against a fake graph; returns each config sent with the pointer at that moment."""
    sent = []

    def set_deployment_config(address, app, deployment, price, wait_s=120, on_send=None):
        assert deployment == "Price"
        if on_send:
            on_send(before)
        sent.append((price, registry.production()))
        if fail_send and price != before:
            raise fail_send
        return "http://graph/readyz", before

    def wait_for_version(*_):
        if fail_wait:
            raise fail_wait

    monkeypatch.setattr(promotion, "_check_graph", lambda *_: None)
    monkeypatch.setattr(promotion, "set_deployment_config", set_deployment_config)
    monkeypatch.setattr(promotion, "wait_for_version", wait_for_version)
    with pytest.raises(PromotionFailed, match="production stays v1") as failed:
        promote_and_follow(registry, "v2", "http://dashboard", "investiq")
    return sent, str(failed.value)


@pytest.mark.parametrize("before", [PINNED, None])
def test_an_update_whose_wait_ran_out_after_it_was_sent_is_undone_pointer_first(monkeypatch, registry, before):
    """The app did not return to RUNNING in time, but the update was sent: the graph config goes
    back too. The pointer goes back first, so that with no entry to restore (None: the builder's
    config, which names the registry) a replica re-reading the pointer finds v1, not v2."""
    sent, message = follow(monkeypatch, registry, fail_send=TimeoutError("not RUNNING within 120 s"), before=before)
    assert [price for price, _ in sent][1:] == [before] and sent[1][1] == "v1"
    assert registry.production() == "v1" and "not RUNNING" in message


def test_ctrl_c_during_the_wait_undoes_both(monkeypatch, registry):
    sent, message = follow(monkeypatch, registry, fail_wait=KeyboardInterrupt())
    assert sent[-1] == (PINNED, "v1") and registry.production() == "v1" and "interrupted" in message
