"""The ETT reproduction: the paper's split and scaling, the paper's PatchTST settings really
set (transformers stores unknown names silently), and a short run that learns."""

import numpy as np
import pandas as pd
import pytest

from training.data import shared_data_dir
from training.ett import ETTConfig, build_forecaster, load_ett, learning_rate, reproduce, windows

SHARED = shared_data_dir()
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def write_ett(path, rows=14400, seed=0):
    t = np.arange(rows)
    rng = np.random.default_rng(seed)
    values = np.stack([np.sin(2 * np.pi * t / 24 + k) * (k + 1) + 0.05 * rng.normal(size=rows) + k
                       for k in range(len(COLUMNS))], axis=1)
    frame = pd.DataFrame(values, columns=COLUMNS)
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=rows, freq="h"))
    frame.to_csv(path, index=False)
    return path


def test_split_borders_and_train_only_scaling(tmp_path):
    path = write_ett(tmp_path / "ETTh1.csv")
    split = load_ett(path, context_length=336)
    assert len(split.train) == 8640
    assert len(split.validation) == 11520 - 8640 + 336 and len(split.test) == 14400 - 11520 + 336
    assert split.train.mean(axis=0) == pytest.approx(np.zeros(7), abs=1e-5)
    assert split.train.std(axis=0) == pytest.approx(np.ones(7), abs=1e-4)
    past, future = windows(split.test, 336, 96)
    assert past.shape == (14400 - 11520 - 96 + 1, 336, 7) and future.shape[1:] == (96, 7)
    assert (future[0, 0] == split.test[336]).all()


def test_an_unknown_file_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown ETT file"):
        load_ett(write_ett(tmp_path / "other.csv", rows=10), 336)


def test_the_paper_settings_reach_the_model():
    config = build_forecaster(ETTConfig(), channels=7).config
    assert (config.patch_length, config.patch_stride, config.context_length) == (16, 8, 336)
    assert (config.d_model, config.num_attention_heads, config.num_hidden_layers, config.ffn_dim) == (16, 4, 3, 128)
    assert (config.ff_dropout, config.path_dropout, config.head_dropout) == (0.3, 0.3, 0.0)
    assert config.scaling == "std" and config.pooling_type is None and config.pre_norm is False


def test_learning_rate_schedules():
    assert [learning_rate(1e-4, e, "paper") for e in (0, 2, 3, 5)] == pytest.approx([1e-4, 1e-4, 1e-4, 0.81e-4])
    assert learning_rate(1e-4, 40, "constant") == 1e-4
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate(1e-4, 0, "cosine")


def test_a_short_run_learns_a_daily_cycle(tmp_path):
    config = ETTConfig(context_length=48, horizon=24, patch_length=8, patch_stride=8, d_model=8, num_hidden_layers=1,
                       num_attention_heads=2, ffn_dim=16, max_epochs=2, learning_rate=1e-2)
    result = reproduce(write_ett(tmp_path / "ETTh1.csv"), config)
    assert result["test_windows"] == 14400 - 11520 - 24 + 1
    assert result["mse"] < 0.1  # the scaled series has variance 1; the noise alone is far below 0.1
    assert result["paper_mse"] is None and len(result["history"]) == 2


@pytest.mark.skipif(not (SHARED / "ett").is_dir(), reason=f"shared data not found at {SHARED}")
def test_the_shared_etth1_file_has_the_standard_split():
    split = load_ett(SHARED / "ett" / "ETTh1.csv", context_length=336)
    assert split.train.shape == (8640, 7)
