import numpy as np
import pytest

from models.direction import edge_score
from models.signal_merge import MergeConfig, merge_signal
from training.backtest import positions

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


def test_price_score_is_the_edge_over_a_reference_forecast():
    base = [0.55, 0.05, 0.40]  # up, flat, down
    assert edge_score([0.55, 0.05, 0.40], base) == pytest.approx(0.0)  # the prior: no signal
    assert edge_score([0.60, 0.05, 0.35], base) == pytest.approx(0.10)
    assert edge_score([0.50, 0.05, 0.45], base) == pytest.approx(-0.10)


def test_a_prior_that_leans_up_needs_as_much_news_to_buy_as_to_sell():
    base = [0.55, 0.05, 0.40]
    prior = edge_score(base, base)
    needed = {}
    for decision, sign in (("BUY", 1), ("SELL", -1)):
        grid = np.linspace(0, 1, 1001)
        needed[decision] = next(s for s in grid if merge_signal(prior, sign * s, CONFIG).decision == decision)
    assert needed["BUY"] == pytest.approx(needed["SELL"])


def test_the_backtest_trades_exactly_as_the_merge_decides():
    scores = np.array([-0.3, -0.2, -0.05, 0.0, 0.05, 0.2, 0.3])
    decisions = [merge_signal(s, None, CONFIG).decision for s in scores]
    expected = [{"BUY": 1.0, "SELL": -1.0, "HOLD": 0.0}[d] for d in decisions]
    assert positions(scores, CONFIG.threshold).tolist() == expected


VALIDATED = MergeConfig()  # threshold unset: the price model's own


def test_unset_threshold_trades_on_the_price_models_validated_threshold():
    merged = merge_signal(0.03, None, VALIDATED, price_threshold=0.03)
    assert (merged.decision, merged.threshold, merged.untradable_because) == ("BUY", 0.03, None)
    assert merge_signal(-0.03, None, VALIDATED, price_threshold=0.03).decision == "SELL"
    assert merge_signal(0.029, None, VALIDATED, price_threshold=0.03).decision == "HOLD"
    # The operator's number wins over the model's.
    assert merge_signal(0.03, None, CONFIG, price_threshold=0.03).decision == "HOLD"


def test_without_a_validated_threshold_the_signal_holds_and_says_why():
    never = merge_signal(0.9, 0.9, VALIDATED, price_threshold=None,
                         no_threshold_because="no threshold paid significantly on its validation windows")
    assert never.decision == "HOLD" and never.threshold is None and never.score == pytest.approx(0.9)
    assert never.untradable_because == ("no signal threshold: no threshold paid significantly on its "
                                        "validation windows")
    no_price = merge_signal(None, -1.0, VALIDATED, price_threshold=0.01)
    assert no_price.decision == "HOLD" and "no usable price answer" in no_price.untradable_because
    assert merge_signal(None, -1.0, CONFIG).decision == "SELL"  # a configured threshold trades on sentiment alone


def test_the_validated_threshold_decides_on_the_price_score_alone():
    """It was validated for the price edge; sentiment, on another scale, cannot push a signal
    past it (nor pull one back): the decision is the report's backtest rule."""
    assert merge_signal(0.0, 0.5, VALIDATED, price_threshold=0.05).decision == "HOLD"
    assert merge_signal(-0.3, 0.6, VALIDATED, price_threshold=0.05).decision == "SELL"
    merged = merge_signal(0.05, -1.0, VALIDATED, price_threshold=0.05)
    assert (merged.decision, merged.score) == ("BUY", 0.05)
    scores = np.array([-0.3, -0.05, -0.049, 0.0, 0.05, 0.2])
    decisions = [merge_signal(s, 0.9, VALIDATED, price_threshold=0.05).decision for s in scores]
    assert positions(scores, 0.05).tolist() == [{"BUY": 1.0, "SELL": -1.0, "HOLD": 0.0}[d] for d in decisions]
