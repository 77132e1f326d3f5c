"""The promotion gate: an equal candidate passes, and so can one of equal skill whose
forecasts differ; a realistically slightly worse one (production's forecasts blended a little
toward uniform) is refused, and so is a first model worse than the base rate; a different
labelling or bar interval is not compared, and every decision lands in the registry."""

import json
from dataclasses import replace

import numpy as np
import pytest

from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry
from tests.model.synthetic import drifting_frame
from tests.support import random_walk_frame
from training.cli import main as cli
from training.retrain import DEFAULT_MARGIN, compare, consider, gate, retrain
from training.train import TrainConfig, train

CONFIG = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                     num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=1, sample_step=2)


@pytest.fixture(scope="module")
def frame():
    return random_walk_frame(2400, seed=5)


@pytest.fixture(scope="module")
def production(frame):
    return train(frame, CONFIG, version="prod")[0]


class Calibrated(PriceDirectionModel):
    """The best production there can be on drifting_frame's i.i.d. returns, where the past says
    nothing: the training class frequencies (the base rate; the true class probabilities fit
    this sample's labels worse), blended with a weight `share` of uniform probabilities
    (seed None: the same forecast a little worse) or of random ones drawn with `seed` (models
    of equal skill whose forecasts differ window by window, as independently trained ones do).
    A trained tiny model would not do as production here: on a few hundred test windows its
    calibration errors are larger than the worsening, so noise could even help it."""

    def __init__(self, model: PriceDirectionModel, share: float = 0.0, seed: int | None = None):
        super().__init__(model.network, model.metadata, prefer_gpu=False)
        self.truth = np.array(model.metadata.base_rates)
        self.share, self.rng = share, None if seed is None else np.random.default_rng(seed)

    def predict_windows(self, windows):
        noise = (np.full((len(windows), 3), 1 / 3) if self.rng is None
                 else self.rng.dirichlet(np.ones(3), size=len(windows)))
        return [self.forecast((1 - self.share) * self.truth + self.share * n) for n in noise]


@pytest.fixture(scope="module")
def drifting():
    frame = drifting_frame(4000, seed=6)
    return frame, train(frame, CONFIG, version="drift")[0]


def test_an_equal_candidate_passes_against_production(frame, production):
    candidate = train(frame, CONFIG, version="cand")[0]  # same seed and data: the same model
    ok, reasons, figures = gate(candidate, production, frame, CONFIG)
    assert figures["vs_production"]["passed"], reasons
    assert figures["vs_production"]["mean_difference"] == pytest.approx(0, abs=1e-6)
    assert ok == figures["vs_base_rate"]["passed"]  # a tiny model on a random walk may not beat the base rate
    assert set(figures["log_loss"]) == {"candidate", "production", "base_rate"}


def test_a_candidate_of_equal_skill_can_pass(drifting):
    """Production and candidates forecast equally well but differently: the paired differences'
    standard error is wider than the margin, so proving non-inferiority would refuse them all."""
    frame, trained = drifting
    decisions = [gate(Calibrated(trained, 0.1, seed), Calibrated(trained, 0.1, seed=0), frame, CONFIG)
                 for seed in (1, 2, 3)]
    tests = [figures["vs_production"] for _, _, figures in decisions]
    assert all(t["hac_se"] > DEFAULT_MARGIN for t in tests), tests
    assert any(t["passed"] for t in tests), [reasons[0] for _, reasons, _ in decisions]


def test_a_slightly_worse_candidate_is_refused_and_so_is_a_first_model_worse_than_the_base_rate(drifting):
    frame, trained = drifting
    candidate = Calibrated(trained, share=0.035)
    ok, reasons, figures = gate(candidate, Calibrated(trained), frame, CONFIG)
    worse = figures["vs_production"]["mean_difference"]
    assert 0.003 <= worse <= 0.005, f"candidate - production {worse:+.4f} nats per window, not slightly worse"
    assert not ok and not figures["vs_production"]["passed"]
    assert "candidate - production log-loss" in reasons[0] and "worse by more than 0.002" in reasons[0]
    assert gate(Calibrated(trained), Calibrated(trained), frame, CONFIG)[0]  # while production itself passes
    ok, reasons, figures = gate(candidate, None, frame, CONFIG)
    above = figures["vs_base_rate"]["mean_difference"]
    assert not ok and above > 0, f"candidate - base rate {above:+.4f} nats per window"
    assert reasons[0] == "no production version yet" and "worse by more than 0" in reasons[1]


def test_the_rule_on_known_differences():
    """d = candidate - other per window: refused when significantly worse or worse on the point
    estimate by more than the margin, passed otherwise, however wide the error."""
    noise = np.random.default_rng(0).normal(0, 0.1, 600)
    noise -= noise.mean()
    base = np.full(600, 1.0)

    def verdict(mean, scale=1.0, margin=DEFAULT_MARGIN):
        return compare(base + mean + scale * noise, base, lags=4, alpha=0.05, margin=margin)

    equal = verdict(0.0)
    assert equal["passed"] and equal["hac_se"] > DEFAULT_MARGIN  # equal: passes though its error is wide
    beyond = verdict(0.003)
    assert not beyond["passed"] and beyond["beyond_margin"] and not beyond["significantly_worse"]
    significant = verdict(0.0015, scale=0.01)
    assert not significant["passed"] and significant["significantly_worse"] and not significant["beyond_margin"]
    above_base_rate = verdict(0.001, margin=0.0)
    assert not above_base_rate["passed"] and not above_base_rate["significantly_worse"]


def test_other_labels_or_bars_are_not_compared(frame, production):
    other = train(frame, TrainConfig(**{**CONFIG.__dict__, "flat_band_bp": 20.0}), version="wide")[0]
    ok, reasons, _ = gate(other, production, frame, CONFIG)
    assert not ok and "not comparable" in reasons[0]
    for field, value in (("bar_interval_s", 60.0), ("session", "regular")):
        other = PriceDirectionModel(production.network, replace(production.metadata, **{field: value}),
                                    prefer_gpu=False)
        ok, reasons, _ = gate(other, production, frame, CONFIG)
        assert not ok and "not comparable" in reasons[0] and field in reasons[0]


def test_decisions_and_figures_are_stored_in_the_registry_and_listed(drifting, tmp_path, capsys):
    frame, trained = drifting
    registry = ModelRegistry(tmp_path / "registry")
    first = consider(Calibrated(trained), registry, frame, CONFIG, "v1")
    assert first["promoted"] and registry.production() == "v1", first["reasons"]
    refused = consider(Calibrated(trained, share=0.5), registry, frame, CONFIG, "v2")
    assert not refused["promoted"] and registry.production() == "v1"
    meta = registry.metadata("v2")["extra"]["gate"]
    assert meta["passed"] is False and meta["figures"]["vs_production"]["mean_difference"] > meta["figures"]["margin"]
    assert [d["action"] for d in registry.decisions()] == ["promote", "reject"]
    assert registry.decisions()[1]["gate"]["vs_production"] == meta["figures"]["vs_production"]
    cli(["models", "--registry", str(registry.root)])
    listing = capsys.readouterr().out
    assert "* v1" in listing and "gate=refused [vs production +" in listing and "(lower +" in listing
    assert "flat_band=5.0bp/0.0vol  bars=300s/" in listing
    assert "signal_threshold=none (HOLD)" in listing  # drifting i.i.d. returns: nothing paid on validation


def test_retrain_keeps_the_registry_labelling(frame, production, tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    consider(production, registry, frame, CONFIG, "v1", promote=False)
    registry.promote("v1")  # by hand: a tiny model on a random walk may not beat the base rate
    with pytest.raises(ValueError, match="labelling"):
        retrain(frame, registry.root, config=TrainConfig(**{**CONFIG.__dict__, "flat_band_bp": 9.0}),
                tracking_uri=None)
    with pytest.raises(ValueError, match="session"):
        retrain(frame, registry.root, session="regular", tracking_uri=None)
    decision = retrain(frame, registry.root, tracking_uri=None)  # production's configuration: the same model
    assert decision["figures"]["vs_production"]["mean_difference"] == pytest.approx(0, abs=1e-6)
    assert decision["promoted"] == decision["figures"]["vs_base_rate"]["passed"], decision["reasons"]
    promoted = json.loads((registry.root / "production.json").read_text())["version"] == decision["candidate"]
    assert promoted == decision["promoted"]
