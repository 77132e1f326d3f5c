"""Train one PatchTST direction model from bars and save the directory the price deployment loads.

Cross-entropy with AdamW, early stopping on validation log-loss (best weights kept), then a
temperature fitted on validation so the probabilities are calibrated. The test part is
scored with the final model, beside the training base rate as the honest baseline.

`train(..., report=...)` hands each epoch's metrics to a callback together with a function
that writes a checkpoint (the best model so far, complete, plus the optimiser state);
`resume_from` continues from such a checkpoint. Ray Tune drives training through these two.
"""

from __future__ import annotations

import logging
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar

from models.bar_spacing import typical_spacing
from models.input_range import fit_input_ranges
from models.price_direction import (
    CLASSES,
    PriceDirectionModel,
    PriceModelMetadata,
    build_patchtst,
)
from models.registry import new_version
from training.backtest import validated_signal
from training.data import Samples, Split, chronological_split, make_samples, normalisation_stats

logger = logging.getLogger(__name__)
TRAINER_STATE = "trainer_state.pt"
MODEL_SUBDIR = "model"


def check_patchtst_sizes(config) -> None:
    """What PatchTST would only refuse at the first step (or never, training nonsense)."""
    if config.max_epochs < 1:
        raise ValueError("max_epochs must be at least 1")
    if config.d_model % config.num_attention_heads:
        raise ValueError(f"d_model {config.d_model} is not divisible by num_attention_heads "
                         f"{config.num_attention_heads}")
    if config.patch_length > config.context_length:
        raise ValueError("patch_length cannot exceed context_length")


@dataclass
class TrainConfig:
    context_length: int = 512
    horizon: int = 12
    flat_band_bp: float = 5.0
    flat_band_vol: float = 0.0  # > 0: flat band of this many horizon standard deviations (if wider)
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
    cost_bp: float = 1.0  # per unit of position change, for the signal threshold chosen on validation
    seed: int = 0
    model_id: str = "patchtst-direction"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        check_patchtst_sizes(self)


@dataclass
class Prepared:
    """Everything fixed before the first step: samples, split, statistics fitted on train."""

    frame: pd.DataFrame
    samples: Samples
    split: Split
    mean: np.ndarray
    std: np.ndarray
    base_rates: np.ndarray
    class_returns: list[float]


def prepare(frame: pd.DataFrame, config: TrainConfig, split: Split | None = None) -> Prepared:
    """`split` (sample end indices) replaces the default chronological split, e.g. for one
    walk-forward fold."""
    samples = make_samples(frame, config.context_length, config.horizon, config.flat_band_bp, config.flat_band_vol)
    split = split or chronological_split(samples, step=config.sample_step)
    mean, std = normalisation_stats(samples, split.train)
    labels = samples.labels[split.train]
    returns = samples.returns[split.train]
    base_rates = np.bincount(labels, minlength=len(CLASSES)) / len(labels)
    class_returns = [float(returns[labels == k].mean()) if (labels == k).any() else 0.0 for k in range(len(CLASSES))]
    return Prepared(frame, samples, split, mean, std, base_rates, class_returns)


def batches(samples: Samples, ends: np.ndarray, mean, std, batch_size: int, rng: np.random.Generator | None = None):
    order = rng.permutation(len(ends)) if rng is not None else np.arange(len(ends))
    for start in range(0, len(order), batch_size):
        idx = ends[order[start:start + batch_size]]
        x = np.stack([samples.window(e) for e in idx])
        yield torch.from_numpy((x - mean) / std).float(), torch.from_numpy(samples.labels[idx])


@torch.inference_mode()
def logits_of(network, samples: Samples, ends: np.ndarray, mean, std, batch_size=256):
    network.eval()
    outs, labels = [], []
    for x, y in batches(samples, ends, mean, std, batch_size):
        outs.append(network(past_values=x.to(network.device)).prediction_logits.float().cpu())
        labels.append(y)
    return torch.cat(outs), torch.cat(labels)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises validation log-loss of softmax(logits / T)."""
    def nll(log_t: float) -> float:
        return torch.nn.functional.cross_entropy(logits / np.exp(log_t), labels).item()
    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def score(probs: torch.Tensor, labels: torch.Tensor, base_rates: np.ndarray) -> dict:
    """Log-loss and accuracy of `probs`, beside the base-rate forecast on the same labels."""
    base = torch.as_tensor(base_rates, dtype=torch.float32).clamp_min(1e-6)
    return {
        "samples": len(labels),
        "log_loss": -torch.log(probs.clamp_min(1e-9)[torch.arange(len(labels)), labels]).mean().item(),
        "accuracy": (probs.argmax(-1) == labels).float().mean().item(),
        "base_rate_log_loss": -torch.log(base[labels]).mean().item(),
        "majority_accuracy": (labels == int(np.argmax(base_rates))).float().mean().item(),
    }


def code_commit() -> str | None:
    """The commit the code runs at, `+changes` appended when tracked files differ from it (so a
    figure is never credited to a commit whose code did not make it)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        return (head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def bar_interval_seconds(index: pd.DatetimeIndex) -> float:
    """The training bars' most common spacing, which a served request must match."""
    return typical_spacing(index.as_unit("ns").asi8 / 1e9)


def finalize(network, prepared: Prepared, config: TrainConfig, version: str, history: list[dict],
             best_epoch: int, session: str | None = None) -> tuple[PriceDirectionModel, dict]:
    """Calibrate on validation, score validation and test, and wrap everything into a model
    whose metadata says how its windows were labelled and on which bars."""
    p = prepared
    val_logits, val_labels = logits_of(network, p.samples, p.split.validation, p.mean, p.std)
    temperature = fit_temperature(val_logits, val_labels)
    test_logits, test_labels = logits_of(network, p.samples, p.split.test, p.mean, p.std)
    reference, threshold = validated_signal(
        torch.softmax(val_logits / temperature, -1).numpy(), p.samples.returns[p.split.validation],
        every=-(-config.horizon // config.sample_step), cost_bp=config.cost_bp)
    metrics = {
        "best_epoch": best_epoch,
        "validation": score(torch.softmax(val_logits / temperature, -1), val_labels, p.base_rates),
        "test": score(torch.softmax(test_logits / temperature, -1), test_labels, p.base_rates),
        "history": history,
    }
    index = p.frame.index
    metadata = PriceModelMetadata(
        model_id=config.model_id, version=version, horizon=config.horizon, flat_band_bp=config.flat_band_bp,
        feature_mean=p.mean.tolist(), feature_std=p.std.tolist(), class_mean_returns=p.class_returns,
        temperature=temperature, base_rates=p.base_rates.tolist(), flat_band_vol=config.flat_band_vol,
        bar_interval_s=bar_interval_seconds(index), session=session, edge_reference=reference.tolist(),
        signal_threshold=None if math.isinf(threshold) else threshold,
        input_ranges=fit_input_ranges((p.samples.features - p.mean) / p.std, p.split.train, config.context_length),
        extra={
            "train_config": asdict(config),
            "data_window": {"first_bar": str(index[0]), "last_bar": str(index[-1]), "bars": len(index),
                            "train_until": str(index[int(p.split.train.max())])},
            "base_rates": dict(zip(CLASSES, p.base_rates.tolist())),
            "metrics": metrics,
            "code_commit": code_commit(),
        },
    )
    return PriceDirectionModel(network, metadata, prefer_gpu=False), metrics


Report = Callable[[dict, Callable[[Path], None]], None]


def train(frame: pd.DataFrame, config: TrainConfig, out_dir: str | Path | None = None, version: str | None = None,
          report: Report | None = None, resume_from: str | Path | None = None,
          split: Split | None = None, session: str | None = None) -> tuple[PriceDirectionModel, dict]:
    """Train on `frame` (OHLCV, time-indexed); returns the final model and its metrics,
    and saves the model directory at `out_dir` when given. `split` as in `prepare`;
    `session`: the session filter the bars went through ("regular" or "all"), recorded."""
    version = version or new_version()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    prepared = prepare(frame, config, split)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    network = build_patchtst(config.context_length, config.patch_length, config.patch_stride, config.d_model,
                             config.num_attention_heads, config.num_hidden_layers, config.ffn_dim,
                             config.dropout).to(device)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": -1, "best_weights": None, "history": []}
    if resume_from is not None:
        state = torch.load(Path(resume_from) / TRAINER_STATE, weights_only=False)
        network.load_state_dict(state.pop("weights"))
        optimiser.load_state_dict(state.pop("optimiser"))
        rng = state.pop("rng")
        torch.set_rng_state(state.pop("torch_rng"))  # dropout draws continue where they stopped
        logger.info("resumed at epoch %d from %s", state["epoch"], resume_from)

    def best_network():
        best = build_patchtst(config.context_length, config.patch_length, config.patch_stride, config.d_model,
                              config.num_attention_heads, config.num_hidden_layers, config.ffn_dim, config.dropout)
        best.load_state_dict(state["best_weights"])
        return best.to(device)

    def write_checkpoint(directory: Path) -> None:
        with torch.random.fork_rng():  # building the copy must not move training's random stream
            model, _ = finalize(best_network(), prepared, config, version, state["history"], state["best_epoch"],
                                session)
        model.save(Path(directory) / MODEL_SUBDIR)
        torch.save({**state, "weights": network.state_dict(), "optimiser": optimiser.state_dict(), "rng": rng,
                    "torch_rng": torch.get_rng_state()}, Path(directory) / TRAINER_STATE)

    p = prepared
    val_labels_all = torch.from_numpy(p.samples.labels[p.split.validation])
    base_rate_val_loss = score(torch.as_tensor(p.base_rates, dtype=torch.float32).expand(len(val_labels_all), -1),
                               val_labels_all, p.base_rates)["log_loss"]
    while state["epoch"] < config.max_epochs:
        epoch, start = state["epoch"], time.perf_counter()
        network.train()
        losses = []
        for x, y in batches(p.samples, p.split.train, p.mean, p.std, config.batch_size, rng):
            loss = torch.nn.functional.cross_entropy(network(past_values=x.to(device)).prediction_logits, y.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        train_seconds = time.perf_counter() - start
        val_logits, val_labels = logits_of(network, p.samples, p.split.validation, p.mean, p.std)
        val_loss = torch.nn.functional.cross_entropy(val_logits, val_labels).item()
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                  "train_samples": len(p.split.train), "train_seconds": train_seconds,
                  "seconds": time.perf_counter() - start}
        state["history"].append(record)
        state["epoch"] = epoch + 1
        if val_loss < state["best_loss"]:
            state.update(best_loss=val_loss, best_epoch=epoch,
                         best_weights={k: v.detach().cpu().clone() for k, v in network.state_dict().items()})
        logger.info("epoch %d  train %.4f  val %.4f  best %.4f (epoch %d)  %.0f s", epoch, record["train_loss"],
                    val_loss, state["best_loss"], state["best_epoch"], record["seconds"])
        if report is not None:
            report({**record, "best_val_loss": state["best_loss"], "base_rate_val_loss": base_rate_val_loss},
                   write_checkpoint)
        if epoch - state["best_epoch"] >= config.patience:
            logger.info("early stop: no validation gain for %d epochs", config.patience)
            break

    model, metrics = finalize(best_network(), prepared, config, version, state["history"], state["best_epoch"],
                              session)
    if out_dir is not None:
        model.save(out_dir)
    return model, metrics
