"""Training produces a directory the price deployment can load, with calibrated probabilities."""

import pytest
import torch

from models.price_direction import PriceDirectionModel
from tests.support import random_walk_bars, random_walk_frame
from training.train import TrainConfig, fit_temperature, train


def test_train_writes_a_loadable_model(tmp_path):
    bars = random_walk_bars(1500, seed=3)
    frame = random_walk_frame(1500, seed=3)
    config = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                         num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=2, sample_step=2)
    _, metrics = train(frame, config, tmp_path / "model", version="v1")
    assert metrics["test"]["samples"] > 0 and len(metrics["history"]) == 2
    model = PriceDirectionModel.load(tmp_path / "model", prefer_gpu=False)
    assert model.metadata.version == "v1" and model.context_length == 32
    assert model.metadata.extra["data_window"]["bars"] == 1500
    window = model.window(*(bars[k] for k in ("open", "high", "low", "close", "volume")))
    (forecast,) = model.predict_windows(window[None])
    assert sum(forecast.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_fit_temperature_recovers_a_known_temperature():
    torch.manual_seed(0)
    true_logits = torch.randn(20000, 3) * 2
    labels = torch.distributions.Categorical(logits=true_logits).sample()
    assert fit_temperature(true_logits * 3, labels) == pytest.approx(3.0, rel=0.05)


def test_training_resumes_from_a_checkpoint(tmp_path):
    frame = random_walk_frame(1200, seed=4)
    config = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                         num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=3, patience=5)
    straight, _ = train(frame, config, version="x")
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()

    def stop_after_two(record, write_checkpoint):
        write_checkpoint(checkpoint)
        if record["epoch"] == 1:
            raise KeyboardInterrupt  # the process dies after epoch 1's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(frame, config, version="x", report=stop_after_two)
    resumed, metrics = train(frame, config, version="x", resume_from=checkpoint)
    assert [h["epoch"] for h in metrics["history"]] == [0, 1, 2]
    for a, b in zip(straight.network.state_dict().values(), resumed.network.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5)
