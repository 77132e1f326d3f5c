import pytest

from models.signal_merge import MergeConfig, merge_signal, price_score

CONFIG = MergeConfig(price_weight=0.6, sentiment_weight=0.4, threshold=0.2)


def test_weighted_average_of_the_branches():
    merged = merge_signal(price=0.6, sentiment=-0.25, config=CONFIG)
    assert merged.score == pytest.approx(0.6 * 0.6 + 0.4 * -0.25)
    assert merged.decision == "BUY" and merged.confidence == pytest.approx(0.26)


def test_missing_branch_renormalises_the_weights():
    assert merge_signal(price=None, sentiment=-0.3, config=CONFIG).score == pytest.approx(-0.3)
    assert merge_signal(price=None, sentiment=-0.3, config=CONFIG).decision == "SELL"
    assert merge_signal(price=0.1, sentiment=None, config=CONFIG).decision == "HOLD"


def test_nothing_arrived_is_hold_at_zero():
    merged = merge_signal(None, None, CONFIG)
    assert (merged.decision, merged.score, merged.confidence) == ("HOLD", 0.0, 0.0)


def test_zero_weight_ignores_a_branch():
    config = MergeConfig(price_weight=1.0, sentiment_weight=0.0)
    assert merge_signal(price=-0.1, sentiment=1.0, config=config).score == pytest.approx(-0.1)


def test_threshold_is_inclusive_and_symmetric():
    assert merge_signal(0.2, None, CONFIG).decision == "BUY"
    assert merge_signal(-0.2, None, CONFIG).decision == "SELL"
    assert merge_signal(0.1999, None, CONFIG).decision == "HOLD"


def test_price_score_is_up_minus_down():
    assert price_score({"up": 0.5, "flat": 0.2, "down": 0.3}) == pytest.approx(0.2)
