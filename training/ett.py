"""PatchTST on ETT, the paper's supervised long-horizon setting, with the same transformers
PatchTST the price model uses: a check against numbers nobody here wrote.

Nie et al. (ICLR 2023), the settings behind Table 3's PatchTST/42 row: look-back 336, patch 16,
stride 8 (42 patches there, with end padding; transformers' PatchTST builds 41), instance
normalisation (`scaling="std"`), channel independence, flatten head; on ETTh1 d_model 16,
4 heads, 3 layers, ffn 128, dropout 0.3, batch 128, Adam 1e-4 (the official code decays it
x0.9 per epoch after epoch 3; see `lr_schedule`), the checkpoint with the best validation loss. Standard split: ETTh train rows
[0, 8640), validation [8640, 11520), test [11520, 14400) (ETTm: x4); validation and test
windows start look-back rows earlier; a StandardScaler fitted on train; MSE and MAE on
scaled data over every test window. Traps of transformers' PatchTST, measured here, are in
../shared/notes/patchtst-in-transformers.md.

    investiq report --sections ett                        # ETTh1, horizons 96 and 336
    investiq report --sections ett --ett-dataset ETTm1    # 4x the windows: a GPU machine's job
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import PatchTSTConfig, PatchTSTForPrediction

logger = logging.getLogger(__name__)

# Table 3 of the paper, PatchTST/42: (MSE, MAE) per horizon.
PAPER = {
    "ETTh1": {96: (0.375, 0.399), 192: (0.414, 0.421), 336: (0.431, 0.436), 720: (0.449, 0.466)},
    "ETTm1": {96: (0.290, 0.342), 192: (0.332, 0.369), 336: (0.366, 0.392), 720: (0.420, 0.424)},
}
# Re-runs of the official code that score every test window (MANIFEST.md), ETTh1 only.
EVERY_WINDOW_RERUN = {"ETTh1": {96: 0.385, 192: 0.413, 336: 0.440, 720: 0.456}}
# The official scripts' sizes where they differ from ETTConfig's (which are ETTh1's).
PAPER_SETTINGS = {"ETTh1": {}, "ETTm1": {"d_model": 128, "num_attention_heads": 16, "ffn_dim": 256, "dropout": 0.2}}
HOURLY_BORDERS = (8640, 11520, 14400)  # ends of train, validation, test rows
ROWS_PER_HOUR = {"ETTh1": 1, "ETTh2": 1, "ETTm1": 4, "ETTm2": 4}


@dataclass
class ETTConfig:
    dataset: str = "ETTh1"
    horizon: int = 96
    context_length: int = 336
    patch_length: int = 16
    patch_stride: int = 8
    d_model: int = 16
    num_attention_heads: int = 4
    num_hidden_layers: int = 3
    ffn_dim: int = 128
    dropout: float = 0.3
    batch_size: int = 128
    learning_rate: float = 1e-4
    # "constant" keeps learning_rate; "paper" is the official schedule (x0.9 per epoch after
    # epoch 3), under which transformers' PatchTST stops short of the paper (see README).
    lr_schedule: str = "constant"
    max_epochs: int = 50
    patience: int = 10
    seed: int = 2021


@dataclass
class ETTSplit:
    train: np.ndarray  # scaled rows (T, channels)
    validation: np.ndarray
    test: np.ndarray


def load_ett(path: Path, context_length: int) -> ETTSplit:
    """The standard split, each part scaled with the train part's mean and std."""
    name = path.stem
    rows = ROWS_PER_HOUR.get(name)
    if rows is None:
        raise ValueError(f"{path}: unknown ETT file; expected one of {sorted(ROWS_PER_HOUR)}")
    values = pd.read_csv(path).drop(columns=["date"]).to_numpy(dtype=np.float64)
    train_end, val_end, test_end = (b * rows for b in HOURLY_BORDERS)
    if len(values) < test_end:
        raise ValueError(f"{path}: {len(values)} rows, the standard split needs {test_end}")
    mean, std = values[:train_end].mean(axis=0), values[:train_end].std(axis=0)
    scaled = ((values - mean) / std).astype(np.float32)
    return ETTSplit(scaled[:train_end], scaled[train_end - context_length:val_end],
                    scaled[val_end - context_length:test_end])


def windows(series: np.ndarray, context_length: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (past, future) pair of a series as read-only views: (n, L, C) and (n, H, C)."""
    view = np.lib.stride_tricks.sliding_window_view(series, context_length + horizon, axis=0)
    view = view.transpose(0, 2, 1)  # (n, L + H, C)
    return view[:, :context_length], view[:, context_length:]


def build_forecaster(config: ETTConfig, channels: int) -> PatchTSTForPrediction:
    """The paper's forecasting PatchTST in transformers' settings (names checked: unknown
    keyword arguments are silently stored and ignored)."""
    model_config = PatchTSTConfig(
        num_input_channels=channels, context_length=config.context_length,
        prediction_length=config.horizon, patch_length=config.patch_length, patch_stride=config.patch_stride,
        d_model=config.d_model, num_attention_heads=config.num_attention_heads,
        num_hidden_layers=config.num_hidden_layers, ffn_dim=config.ffn_dim,
        attention_dropout=0.0, ff_dropout=config.dropout, path_dropout=config.dropout,
        positional_dropout=config.dropout, head_dropout=0.0,
        scaling="std", pooling_type=None, pre_norm=False, positional_encoding_type="random",
        share_embedding=True, channel_attention=False,
    )
    return PatchTSTForPrediction(model_config)


@torch.inference_mode()
def forecast_errors(model: PatchTSTForPrediction, past: np.ndarray, future: np.ndarray,
                    batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Squared and absolute error per window, averaged over horizon and channels."""
    model.eval()
    mse, mae = [], []
    for start in range(0, len(past), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(past[start:start + batch_size]))
        y = torch.from_numpy(np.ascontiguousarray(future[start:start + batch_size]))
        error = model(past_values=x).prediction_outputs - y
        mse.append((error ** 2).mean(dim=(1, 2)).numpy())
        mae.append(error.abs().mean(dim=(1, 2)).numpy())
    return np.concatenate(mse), np.concatenate(mae)


def learning_rate(base: float, epoch: int, schedule: str) -> float:
    """"paper": the official code's 'type3' schedule, constant for 3 epochs, then x0.9 per
    epoch; "constant": `base` throughout."""
    if schedule not in ("paper", "constant"):
        raise ValueError(f"unknown learning-rate schedule {schedule!r}: use 'paper' or 'constant'")
    return base if schedule == "constant" or epoch < 3 else base * 0.9 ** (epoch - 3)


def reproduce(path: Path, config: ETTConfig, threads: int | None = None) -> dict:
    """Train on the standard split and score every test window; returns the figures beside the paper's."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    split = load_ett(path, config.context_length)
    train_x, train_y = windows(split.train, config.context_length, config.horizon)
    val_x, val_y = windows(split.validation, config.context_length, config.horizon)
    test_x, test_y = windows(split.test, config.context_length, config.horizon)
    model = build_forecaster(config, split.train.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    best = {"val_mse": float("inf"), "epoch": -1, "weights": None}
    history = []
    for epoch in range(config.max_epochs):
        start = time.perf_counter()
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(config.learning_rate, epoch, config.lr_schedule)
        model.train()
        order = rng.permutation(len(train_x))
        losses = []
        for i in range(0, len(order), config.batch_size):
            idx = np.sort(order[i:i + config.batch_size])
            out = model(past_values=torch.from_numpy(train_x[idx]), future_values=torch.from_numpy(train_y[idx]))
            optimiser.zero_grad()
            out.loss.backward()
            optimiser.step()
            losses.append(out.loss.item())
        val_mse = float(forecast_errors(model, val_x, val_y)[0].mean())
        history.append({"epoch": epoch, "train_mse": float(np.mean(losses)), "val_mse": val_mse,
                        "seconds": time.perf_counter() - start})
        logger.info("%s h%d epoch %d  train %.4f  val %.4f  %.0f s", config.dataset, config.horizon, epoch,
                    history[-1]["train_mse"], val_mse, history[-1]["seconds"])
        if val_mse < best["val_mse"]:
            best = {"val_mse": val_mse, "epoch": epoch,
                    "weights": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        elif epoch - best["epoch"] >= config.patience:
            break
    model.load_state_dict(best["weights"])
    mse, mae = forecast_errors(model, test_x, test_y)
    paper_batches = len(mse) // config.batch_size * config.batch_size  # the official loader drops the rest
    paper = PAPER.get(config.dataset, {}).get(config.horizon)
    return {
        "config": asdict(config),
        "test_windows": len(mse),
        "mse": float(mse.mean()), "mae": float(mae.mean()),
        "mse_full_batches": float(mse[:paper_batches].mean()), "mae_full_batches": float(mae[:paper_batches].mean()),
        "paper_mse": paper[0] if paper else None, "paper_mae": paper[1] if paper else None,
        "rerun_every_window_mse": EVERY_WINDOW_RERUN.get(config.dataset, {}).get(config.horizon),
        "best_epoch": best["epoch"], "epochs_run": len(history),
        "train_seconds": float(sum(h["seconds"] for h in history)),
        "threads": torch.get_num_threads(),
        "history": history,
    }
