"""The model-quality report: sections run on small inputs, save JSON, and render into
markdown with figures and verdicts computed from the numbers."""

import json

import pytest

from tests.model.test_ett import write_ett
from tests.model.test_walk_forward import TINY
from tests.support import random_walk_frame, write_news_layout
from training import report
from training.cli import main as cli
from training.report_render import backtest_verdict, bandit_summary, direction_verdicts
from training.train_volatility import VolatilityTrainConfig
from training.volatility_eval import VolatilitySetup
from training.walk_forward import Setup

SENTENCES = [f"the {w} rose .@positive" for w in ("profit", "sales", "stock", "margin", "output")] * 2 + \
            [f"the {w} fell .@negative" for w in ("profit", "sales", "stock", "margin", "output")] * 2 + \
            [f"the {w} is unchanged .@neutral" for w in ("profit", "sales", "stock", "margin", "output")] * 2


SMALL = {
    "setups": {"tiny": Setup("bars.csv", "all", TINY, folds=2, test_fraction=0.3, lags=5)},
    "ett_horizons": (24,),
    "ett_overrides": {"context_length": 48, "patch_length": 8, "patch_stride": 8, "d_model": 8, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "ffn_dim": 16, "max_epochs": 1},
    "bandit": {"steps": 60, "seeds": 3},
    "volatility_setups": {
        "tiny-daily": VolatilitySetup("bars.csv", "all", (1, 5), (1, 5, 22), intraday=False, folds=2, test_fraction=0.3,
                                      patchtst=VolatilityTrainConfig(context_length=32, patch_length=8, patch_stride=8,
                                                                     d_model=8, num_attention_heads=2,
                                                                     num_hidden_layers=1, ffn_dim=16, max_epochs=1)),
        "tiny-intraday": VolatilitySetup("bars.csv", "all", (12,), (12, 78, 390), intraday=True, folds=2,
                                         test_fraction=0.3, patchtst=None)},
}


@pytest.fixture()
def shared_layout(tmp_path):
    """The shared data folder's layout, filled with small synthetic files."""
    data = write_news_layout(tmp_path / "data", SENTENCES, {"shares rose": 0.5, "shares fell": -0.4})
    (data / "ett").mkdir()
    write_ett(data / "ett" / "ETTh1.csv")
    random_walk_frame(1500, seed=5).to_csv(data / "bars.csv", index_label="timestamp")
    return data


def test_every_section_renders_into_one_report(shared_layout, tmp_path, tiny_bert_dir):
    out = tmp_path / "report"
    path = report.build(out, shared_layout, report.SECTIONS, sentiment_model=str(tiny_bert_dir), **SMALL)
    text = path.read_text()
    for heading in ("PatchTST on ETTh1", "Price direction", "Volatility", "Sentiment", "Strategy weights"):
        assert f"## {heading}" in text
    for figure in ("ett_validation.png", "direction_reliability.png", "direction_equity.png", "bandit_regret.png",
                   "volatility_forecasts.png"):
        assert (out / figure).stat().st_size > 1000 and f"({figure})" in text
    saved = json.loads((out / "sentiment.json").read_text())
    assert saved["result"]["model_error"] is None
    assert "tf-idf + logistic regression" in saved["result"]["held_out_scores"]["AllAgree"]
    assert "base rate" in text and "buy_and_hold" in text
    assert "## Summary" in text and "- Direction, tiny: PatchTST" in text
    assert "- Volatility, tiny-intraday, 12 bars: HAR QLIKE" in text and "| ewma_tod |" in text
    assert "| patchtst |" in text


def test_one_section_is_rerun_and_the_others_are_kept(shared_layout, tmp_path):
    out = tmp_path / "report"
    report.build(out, shared_layout, ["bandit", "sentiment"], sentiment_model=str(tmp_path / "no-such-model"), **SMALL)
    first = (out / "sentiment.json").read_text()
    path = report.build(out, shared_layout, ["bandit"], **SMALL)
    assert (out / "sentiment.json").read_text() == first
    text = path.read_text()
    assert "could not be loaded here" in text and "## Strategy weights" in text


def test_verdicts_follow_the_intervals():
    scores = {m: {"brier_skill": s, "brier_skill_ci": ci} for m, s, ci in (
        ("patchtst", 0.01, [0.002, 0.02]), ("logistic", -0.01, [-0.02, -0.001]),
        ("persistence", 0.0, [-0.01, 0.01]), ("ensemble", 0.0, [-0.01, 0.01]))}
    lines = direction_verdicts(scores)
    assert "patchtst beats the base rate" in lines[0]
    assert "worse than the base rate" in lines[1]
    assert "does **not** beat" in lines[2]


def test_the_command_refuses_unknown_sections_and_missing_data(tmp_path):
    with pytest.raises(SystemExit, match="unknown sections or setups"):
        cli(["report", "--sections", "ett,astrology", "--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="reference data not found"):
        cli(["report", "--sections", "ett", "--data", str(tmp_path / "absent")])


def test_the_bandit_summary_names_every_policy_that_ties_with_the_best():
    policies = {"thompson": {"final_mean": 30.0, "final_ci95": 2.8}, "ucb1": {"final_mean": 50.6, "final_ci95": 1.3},
                "epsilon-greedy": {"final_mean": 30.1, "final_ci95": 4.8}}
    text = bandit_summary(policies)
    assert text.startswith("thompson 30.0 ± 2.8, epsilon-greedy 30.1 ± 4.8, ucb1 50.6 ± 1.3")
    assert text.endswith("thompson ties with epsilon-greedy (intervals overlap)")
    assert bandit_summary({k: v for k, v in policies.items() if k != "epsilon-greedy"}).endswith("thompson is best")


def test_the_backtest_verdict_follows_the_paired_test_and_the_interval():
    def verdict(t, p, ci, exposure=0.5, thresholds=(0.02, 0.05)):
        return backtest_verdict({"exposure": exposure, "vs_reference": {"t": t, "p_value": p,
                                                                         "sharpe_difference_ci": ci}}, thresholds)
    assert "makes less per period than buy-and-hold" in verdict(-2.7, 0.01, [-1.1, 0.3])
    assert "[-1.10, +0.30] includes zero" in verdict(-2.7, 0.01, [-1.1, 0.3])
    assert "makes more" in verdict(3.0, 0.003, [0.2, 1.5]) and "is above zero" in verdict(3.0, 0.003, [0.2, 1.5])
    assert "not distinguishable" in verdict(0.06, 0.95, [-3.0, 3.3])
    assert "never traded" in verdict(0.0, 1.0, [0, 0], exposure=0)
    # Why it never traded follows the thresholds: none chosen, or none reached on test.
    assert "no fold's validation P&L" in verdict(0.0, 1.0, [0, 0], exposure=0, thresholds=(None, None))
    assert "no test score reached" in verdict(0.0, 1.0, [0, 0], exposure=0, thresholds=(None, 0.2))
