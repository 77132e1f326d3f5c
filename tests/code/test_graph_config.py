"""The builder's GPU plan and device policy, without Ray."""

import pytest
import yaml

from deployments.config import GraphConfig
from graph import fit_gpu_plan, resolve_devices
from tests.support import PROJECT_ROOT


def shipped_config() -> GraphConfig:
    config = yaml.safe_load((PROJECT_ROOT / "serve_config.yaml").read_text())
    return GraphConfig.model_validate(config["applications"][0]["args"])


def test_shipped_plan_fills_card_0_and_leaves_card_1_for_tune():
    config = shipped_config()
    requests = [(b, getattr(config, b).placement.num_gpus) for b in ("sentiment", "price", "volatility")]
    assert [fraction for _, fraction in requests] == [0.5, 0.25, 0.25]  # each model its own share
    assert fit_gpu_plan(requests + [("tune-trial-1", 0.5), ("tune-trial-2", 0.5)], cards_per_node=[2]) == {
        "sentiment": 0, "price": 0, "volatility": 0, "tune-trial-1": 1, "tune-trial-2": 1}


def test_plan_that_cannot_fit_is_refused_not_left_pending():
    with pytest.raises(ValueError, match="does not fit"):
        fit_gpu_plan([("a", 0.6), ("b", 0.6)], cards_per_node=[1])


def test_auto_without_gpus_drops_the_requests():
    config = resolve_devices(shipped_config(), cards_per_node=[0])
    assert [getattr(config, b).placement.num_gpus for b in ("sentiment", "price", "volatility")] == [0, 0, 0]


def test_auto_with_gpus_keeps_the_plan():
    config = resolve_devices(shipped_config(), cards_per_node=[2])
    assert [getattr(config, b).placement.num_gpus for b in ("sentiment", "price", "volatility")] == [0.5, 0.25, 0.25]


def test_cpu_policy_never_asks_for_a_gpu():
    config = shipped_config().model_copy(update={"device_policy": "cpu"})
    assert resolve_devices(config, cards_per_node=[2]).sentiment.placement.num_gpus == 0


def test_gpu_policy_without_gpus_fails_with_what_to_do():
    config = shipped_config().model_copy(update={"device_policy": "gpu"})
    with pytest.raises(ValueError, match="no GPUs.*device_policy: auto"):
        resolve_devices(config, cards_per_node=[0, 0])


def test_unknown_settings_are_rejected():
    with pytest.raises(ValueError, match="extra"):
        GraphConfig.model_validate({"sentiment": {"modle": "x"}})


def test_the_shipped_config_is_in_shadow_mode_with_declared_strategies_and_bounded_outcomes():
    config = shipped_config()
    assert config.ingress.shadow is True and "price" in config.ingress.quorum
    assert config.ledger.strategies.names == ["momentum", "mean_reversion", "breakout", "investiq_buy",
                                              "investiq_sell"]
    assert config.ingress.limits.max_outcomes == 100


def test_a_strategy_declared_twice_or_malformed_is_refused():
    with pytest.raises(ValueError, match="a name twice"):
        GraphConfig.model_validate({"ledger": {"strategies": {"names": ["momentum", "momentum"]}}})
    with pytest.raises(ValueError, match="pattern"):
        GraphConfig.model_validate({"ledger": {"strategies": {"names": ["two words"]}}})


def test_a_config_from_before_the_continuous_batcher_still_validates(caplog):
    """batch_wait_timeout_s is gone (nothing waits any more): accepted, ignored, and said so."""
    from deployments.config import GraphConfig

    config = GraphConfig.model_validate({"sentiment": {"batch_wait_timeout_s": 0.02},
                                         "price": {"batch_wait_timeout_s": 0.0005}})
    assert config.sentiment.max_batch_size == 16
    assert "batch_wait_timeout_s is ignored" in caplog.text
