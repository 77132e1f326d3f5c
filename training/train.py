"""Train one PatchTST direction model from bars and save the directory the price deployment loads.

Cross-entropy with AdamW, early stopping on validation log-loss (best weights kept), then a
temperature fitted on validation so the probabilities are calibrated. The test part is
scored once, at the end, beside the training base rate as the honest baseline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar

from models.price_direction import CLASSES, PriceDirectionModel, PriceModelMetadata, build_patchtst
from training.data import chronological_split, make_samples, normalisation_stats

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    context_length: int = 512
    horizon: int = 12
    flat_band_bp: float = 5.0
    patch_length: int = 16
    patch_stride: int = 8
    d_model: int = 32
    num_attention_heads: int = 4
    num_hidden_layers: int = 2
    ffn_dim: int = 64
    dropout: float = 0.2
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 10
    patience: int = 3
    sample_step: int = 4  # use every n-th window; neighbouring windows are near-duplicates
    seed: int = 0
    model_id: str = "patchtst-direction"
    extra: dict = field(default_factory=dict)


def _batches(samples, ends: np.ndarray, mean, std, batch_size: int, rng: np.random.Generator | None = None):
    order = rng.permutation(len(ends)) if rng is not None else np.arange(len(ends))
    for start in range(0, len(order), batch_size):
        idx = ends[order[start:start + batch_size]]
        x = np.stack([samples.window(e) for e in idx])
        yield torch.from_numpy((x - mean) / std).float(), torch.from_numpy(samples.labels[idx])


@torch.inference_mode()
def _logits(network, samples, ends, mean, std, batch_size=256) -> tuple[torch.Tensor, torch.Tensor]:
    network.eval()
    outs, labels = [], []
    for x, y in _batches(samples, ends, mean, std, batch_size):
        outs.append(network(past_values=x).prediction_logits)
        labels.append(y)
    return torch.cat(outs), torch.cat(labels)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises validation log-loss of softmax(logits / T)."""
    def nll(log_t: float) -> float:
        return torch.nn.functional.cross_entropy(logits / np.exp(log_t), labels).item()
    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def evaluate(logits: torch.Tensor, labels: torch.Tensor, temperature: float, base_rates: np.ndarray) -> dict:
    probs = torch.softmax(logits / temperature, dim=-1)
    n = len(labels)
    base = torch.as_tensor(base_rates, dtype=torch.float32).clamp_min(1e-6)
    return {
        "samples": n,
        "log_loss": torch.nn.functional.nll_loss(torch.log(probs.clamp_min(1e-9)), labels).item(),
        "accuracy": (probs.argmax(-1) == labels).float().mean().item(),
        "base_rate_log_loss": -torch.log(base[labels]).mean().item(),
        "majority_accuracy": (labels == int(np.argmax(base_rates))).float().mean().item(),
    }


def train(frame: pd.DataFrame, config: TrainConfig, out_dir: str | Path, version: str | None = None) -> dict:
    """Train on `frame` (OHLCV, time-indexed) and save a model directory at `out_dir`."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    samples = make_samples(frame, config.context_length, config.horizon, config.flat_band_bp)
    split = chronological_split(samples, step=config.sample_step)
    mean, std = normalisation_stats(samples, split.train)
    train_labels = samples.labels[split.train]
    base_rates = np.bincount(train_labels, minlength=len(CLASSES)) / len(train_labels)
    class_returns = [float(np.nanmean(samples.returns[split.train][train_labels == k])) if (train_labels == k).any()
                     else 0.0 for k in range(len(CLASSES))]

    network = build_patchtst(config.context_length, config.patch_length, config.patch_stride, config.d_model,
                             config.num_attention_heads, config.num_hidden_layers, config.ffn_dim, config.dropout)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    best = {"val_loss": float("inf"), "epoch": -1, "state": None}
    history = []
    for epoch in range(config.max_epochs):
        start = time.perf_counter()
        network.train()
        losses = []
        for x, y in _batches(samples, split.train, mean, std, config.batch_size, rng):
            loss = torch.nn.functional.cross_entropy(network(past_values=x).prediction_logits, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        val_logits, val_labels = _logits(network, samples, split.validation, mean, std)
        val_loss = torch.nn.functional.cross_entropy(val_logits, val_labels).item()
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                        "seconds": time.perf_counter() - start})
        logger.info("epoch %d  train %.4f  val %.4f  (%.0f s)", epoch, history[-1]["train_loss"], val_loss,
                    history[-1]["seconds"])
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "epoch": epoch,
                    "state": {k: v.detach().clone() for k, v in network.state_dict().items()}}
        elif epoch - best["epoch"] >= config.patience:
            logger.info("early stop: no validation gain for %d epochs", config.patience)
            break
    network.load_state_dict(best["state"])

    val_logits, val_labels = _logits(network, samples, split.validation, mean, std)
    temperature = fit_temperature(val_logits, val_labels)
    test_logits, test_labels = _logits(network, samples, split.test, mean, std)
    metrics = {
        "best_epoch": best["epoch"],
        "validation": evaluate(val_logits, val_labels, temperature, base_rates),
        "test": evaluate(test_logits, test_labels, temperature, base_rates),
        "history": history,
    }
    index = frame.index
    metadata = PriceModelMetadata(
        model_id=config.model_id,
        version=version or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        horizon=config.horizon,
        flat_band_bp=config.flat_band_bp,
        feature_mean=mean.tolist(),
        feature_std=std.tolist(),
        class_mean_returns=class_returns,
        temperature=temperature,
        extra={
            "train_config": asdict(config),
            "data_window": {"first_bar": str(index[0]), "last_bar": str(index[-1]), "bars": len(index),
                            "train_until": str(index[int(split.train.max())])},
            "base_rates": dict(zip(CLASSES, base_rates.tolist())),
            "metrics": metrics,
        },
    )
    PriceDirectionModel(network, metadata, prefer_gpu=False).save(out_dir)
    return metrics
