"""Walk-forward folds never let a bar leak forward, baselines mean what they say, and the
whole evaluation runs end to end on a small synthetic series."""

import numpy as np
import pytest

from models.direction import CLASSES
from tests.support import random_walk_frame
from training.data import make_samples
from training.train import TrainConfig
from training.walk_forward import Setup, ensemble_weight, evaluate_setup, fold_splits, persistence

TINY = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8, num_attention_heads=2,
                   num_hidden_layers=1, ffn_dim=16, max_epochs=1, patience=1, sample_step=2, batch_size=32)


@pytest.fixture(scope="module")
def samples():
    return make_samples(random_walk_frame(1500, seed=3), TINY.context_length, TINY.horizon, TINY.flat_band_bp)


def test_folds_are_purged_and_walk_forward(samples):
    splits = fold_splits(samples, folds=3, test_fraction=0.4, train_step=2)
    gap = samples.context_length + samples.horizon
    ends = samples.ends()
    assert splits[0].test[0] >= ends[int(len(ends) * 0.6)]
    for k, split in enumerate(splits):
        assert split.train.max() + gap <= split.validation.min()
        assert split.validation.max() + gap <= split.test.min()
        assert (np.diff(split.test) == samples.horizon).all()  # outcomes do not overlap
        if k:
            assert split.test.min() - splits[k - 1].test.max() == samples.horizon  # also across the boundary
            assert split.train.max() > splits[k - 1].train.max()  # the origin rolls forward


def test_persistence_repeats_the_last_move_at_the_training_repeat_rate(samples):
    ends = samples.ends()
    train, test = ends[:600], ends[700:720]
    probs = persistence(samples, train, test)
    repeat = (samples.labels[train] == samples.labels[train - samples.horizon]).mean()
    assert probs.sum(axis=1) == pytest.approx(np.ones(len(test)))
    assert repeat > 1 / 3
    assert (probs.argmax(axis=1) == samples.labels[test - samples.horizon]).all()
    assert probs.max(axis=1) == pytest.approx(np.full(len(test), repeat))


def test_ensemble_weight_picks_the_forecaster_that_knows_the_answer():
    labels = np.array([0, 1, 2, 0, 1, 2])
    knows = np.eye(3)[labels] * 0.9 + 0.1 / 3
    guesses = np.full((6, 3), 1 / 3)
    assert ensemble_weight(knows, guesses, labels) == 1.0
    assert ensemble_weight(guesses, knows, labels) == 0.0


def test_evaluate_setup_scores_every_forecaster_on_the_same_windows(tmp_path):
    random_walk_frame(1500, seed=4).to_csv(tmp_path / "bars.csv", index_label="timestamp")
    setup = Setup("bars.csv", "all", TINY, folds=2, test_fraction=0.3, lags=5, periods_per_year=100)
    result = evaluate_setup(setup, tmp_path, reps=50)
    n = {s["n"] for s in result["scores"].values()}
    assert len(n) == 1 and n.pop() > 10
    assert set(result["scores"]) == {"patchtst", "base_rate", "persistence", "logistic", "ensemble"}
    assert result["scores"]["base_rate"]["brier_skill"] == pytest.approx(0.0)
    assert set(result["backtest"]) == {"patchtst", "logistic", "ensemble", "buy_and_hold"}
    assert result["backtest"]["buy_and_hold"]["exposure"] == 1.0
    assert sum(result["test_class_rates"].values()) == pytest.approx(1.0)
    assert len(result["ensemble_weights"]) == 2 and set(result["test_class_rates"]) == set(CLASSES)
    assert set(result["thresholds"]) == {"patchtst", "logistic", "ensemble"}
    assert all(len(t) == 2 and all(x is None or x > 0 for x in t) for t in result["thresholds"].values())
    ic = result["information_coefficient"]["patchtst"]
    assert ic["n"] == result["backtest"]["buy_and_hold"]["periods"] and {"ic", "ic_t", "rank_ic", "rank_ic_t"} <= set(ic)
    assert sum(b["n"] for b in result["hit_rate_by_confidence"]["logistic"]) <= ic["n"]
    comparison = result["backtest"]["patchtst"]["vs_reference"]
    assert {"t", "p_value", "sharpe_difference_ci"} <= set(comparison)
