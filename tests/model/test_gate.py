"""The promotion gate, both ways, on models trained here."""

import pytest

from tests.support import random_walk_frame
from training.retrain import gate
from training.train import TrainConfig, train

CONFIG = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                     num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=1, sample_step=2)


@pytest.fixture(scope="module")
def frame():
    return random_walk_frame(1200, seed=5)


@pytest.fixture(scope="module")
def production(frame):
    return train(frame, CONFIG, version="prod")[0]


def test_an_equal_candidate_passes(frame, production):
    candidate = train(frame, CONFIG, version="cand")[0]  # same seed and data: the same model
    ok, reasons, scores = gate(candidate, production, frame, CONFIG, tolerance=0.10)
    assert ok, reasons
    assert scores["candidate"]["log_loss"] == pytest.approx(scores["production"]["log_loss"], rel=1e-4)


def test_a_much_worse_candidate_is_kept_aside(frame, production):
    candidate = train(frame, CONFIG, version="overconfident")[0]
    candidate.metadata.temperature = 0.01  # wildly overconfident: log-loss explodes
    ok, reasons, scores = gate(candidate, production, frame, CONFIG, tolerance=0.10)
    assert not ok
    assert scores["candidate"]["log_loss"] > 1.1 * scores["production"]["log_loss"]
    assert ">" in reasons[0] and "held-out windows" in reasons[0]


def test_first_model_is_promoted_and_different_labels_are_not_compared(frame, production):
    assert gate(production, None, frame, CONFIG, 0.1)[:2] == (True, ["no production version yet"])
    other = train(frame, TrainConfig(**{**CONFIG.__dict__, "flat_band_bp": 20.0}), version="wide")[0]
    ok, reasons, _ = gate(other, production, frame, CONFIG, 0.1)
    assert not ok and "not comparable" in reasons[0]
