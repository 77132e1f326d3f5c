"""The promotion gate: an equal candidate passes, a realistically slightly worse one
(production's forecasts blended a little toward noise) is refused, a different labelling is
not compared, and every decision lands in the registry."""

import json

import numpy as np
import pytest
from scipy.stats import norm

from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry
from tests.model.synthetic import DRIFT, VOL, drifting_frame
from tests.support import random_walk_frame
from training.cli import main as cli
from training.retrain import consider, gate, retrain
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
    """The best production there can be on drifting_frame's i.i.d. returns: the true class
    probabilities of the horizon return, blended with a weight `share` of random probabilities
    (share 0: production itself; share 0.1: the same model a little worse, not a broken one).
    A trained tiny model would not do as production here: on a few hundred test windows its
    calibration errors are larger than the worsening, so noise could even help it."""

    def __init__(self, model: PriceDirectionModel, share: float = 0.0, seed: int = 0):
        super().__init__(model.network, model.metadata, prefer_gpu=False)
        h, band = model.metadata.horizon, model.metadata.flat_band_bp / 1e4
        up, down = norm.sf(band, h * DRIFT, np.sqrt(h) * VOL), norm.cdf(-band, h * DRIFT, np.sqrt(h) * VOL)
        self.truth = np.array([up, 1 - up - down, down])
        self.share, self.rng = share, np.random.default_rng(seed)

    def predict_windows(self, windows):
        noise = self.rng.dirichlet(np.ones(3), size=len(windows))
        return [self.forecast((1 - self.share) * self.truth + self.share * n) for n in noise]


@pytest.fixture(scope="module")
def drifting():
    frame = drifting_frame(4000, seed=6)
    return frame, train(frame, CONFIG, version="drift")[0]


def test_an_equal_candidate_passes(frame, production):
    candidate = train(frame, CONFIG, version="cand")[0]  # same seed and data: the same model
    ok, reasons, figures = gate(candidate, production, frame, CONFIG)
    assert ok, reasons
    assert figures["vs_production"]["mean_difference"] == pytest.approx(0, abs=1e-6)
    assert figures["vs_base_rate"]["passed"]
    assert set(figures["log_loss"]) == {"candidate", "production", "base_rate"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_slightly_worse_candidate_is_refused(drifting, seed):
    frame, trained = drifting
    production, candidate = Calibrated(trained), Calibrated(trained, share=0.1, seed=seed)
    ok, reasons, figures = gate(candidate, production, frame, CONFIG)
    worse = figures["vs_production"]
    assert not ok and not worse["passed"]
    assert 0 < worse["mean_difference"] < 0.05  # slightly worse, not broken
    assert figures["log_loss"]["candidate"] < 1.05 * figures["log_loss"]["production"]
    assert "candidate - production log-loss" in reasons[0] and "not shown to be no worse" in reasons[0]
    assert gate(Calibrated(trained), production, frame, CONFIG)[0]  # while production itself passes


def test_first_model_is_gated_against_the_base_rate_and_other_labels_are_not_compared(frame, production):
    ok, reasons, figures = gate(production, None, frame, CONFIG)
    assert reasons[0] == "no production version yet" and "vs_base_rate" in figures and ok == \
        figures["vs_base_rate"]["passed"]
    other = train(frame, TrainConfig(**{**CONFIG.__dict__, "flat_band_bp": 20.0}), version="wide")[0]
    ok, reasons, _ = gate(other, production, frame, CONFIG)
    assert not ok and "not comparable" in reasons[0]


def test_decisions_and_figures_are_stored_in_the_registry_and_listed(frame, production, tmp_path, capsys):
    registry = ModelRegistry(tmp_path / "registry")
    first = consider(production, registry, frame, CONFIG, "v1")
    assert first["promoted"] and registry.production() == "v1"
    refused = consider(Calibrated(production, share=0.5), registry, frame, CONFIG, "v2")
    assert not refused["promoted"] and registry.production() == "v1"
    meta = registry.metadata("v2")["extra"]["gate"]
    assert meta["passed"] is False and meta["figures"]["vs_production"]["upper_bound"] > meta["figures"]["margin"]
    assert [d["action"] for d in registry.decisions()] == ["promote", "reject"]
    assert registry.decisions()[1]["gate"]["vs_production"] == meta["figures"]["vs_production"]
    cli(["models", "--registry", str(registry.root)])
    listing = capsys.readouterr().out
    assert "* v1" in listing and "gate=refused [vs production +" in listing and "(upper +" in listing
    assert "flat_band=5.0bp/0.0vol  bars=300s/" in listing


def test_retrain_keeps_the_registry_labelling(frame, production, tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    consider(production, registry, frame, CONFIG, "v1")
    with pytest.raises(ValueError, match="labelling"):
        retrain(frame, registry.root, config=TrainConfig(**{**CONFIG.__dict__, "flat_band_bp": 9.0}),
                tracking_uri=None)
    decision = retrain(frame, registry.root, tracking_uri=None)  # production's configuration: the same model
    assert decision["passed"] and decision["promoted"], decision["reasons"]
    assert json.loads((registry.root / "production.json").read_text())["version"] == decision["candidate"]
