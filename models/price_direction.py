"""Price direction over a horizon from OHLCV bars, with transformers' PatchTST.

The model reads `context_length` bars turned into stationary channels (log return, log
high/low range, log close/open body, log volume) and classifies the log return over the
next `horizon` bars as up / flat / down (flat = within ±flat_band_bp, or flat_band_vol
trailing volatilities if wider). Probabilities are temperature-scaled (the temperature is
fitted on validation data by training).

A model that has learnt nothing forecasts the training base rates, and on drifting data
those are lopsided (SPY 5-minute: more up than down); a trained network also keeps a lean of
its own that calibration does not remove. So each forecast says how far it departs from the
model's *reference*, its mean calibrated forecast on its validation windows (the training
base rates for models saved before references were stored): the edge per class, P(class) -
reference; the score, edge(up) - edge(down), which is 0 for a model that says the same
whatever the bars; and the expected return sum(edge x class mean return), 0 at the reference.
The training period's own average (the drift) is reported apart, as `base_rate_return`.
Training also chooses the score threshold to trade on, on the same validation windows
(`signal_threshold`; None where no threshold's P&L there was significantly positive): the
merge's default.

Each forecast also says whether its window is unlike every training window
(models.input_range: per channel, the window's mean and std against the range they took in
training), since on such inputs the probabilities mean nothing however confident they look.

A model is a directory: transformers' config.json + weights, and `investiq.json` with the
normalisation statistics, temperature and metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import PatchTSTConfig, PatchTSTForClassification

from models.direction import CLASSES, edge_score
from models.model_directory import BarModel
from models.input_range import InputShift, input_shifts

logger = logging.getLogger(__name__)
CHANNELS = ("log_return", "log_range", "log_body", "log_volume")


def ohlcv_features(open_, high, low, close, volume) -> np.ndarray:
    """(T bars) -> (T-1, len(CHANNELS)) float32; the first bar only anchors the first return."""
    o, h, l, c, v = (np.asarray(x, dtype=np.float64) for x in (open_, high, low, close, volume))
    feats = np.stack(
        [
            np.diff(np.log(c)),
            np.log(h[1:] / l[1:]),
            np.log(c[1:] / o[1:]),
            np.log1p(np.maximum(v[1:], 0.0)),
        ],
        axis=1,
    )
    return feats.astype(np.float32)


@dataclass
class PriceModelMetadata:
    model_id: str
    version: str
    horizon: int
    flat_band_bp: float
    feature_mean: list[float]
    feature_std: list[float]
    class_mean_returns: list[float]  # mean horizon log return per class, in CLASSES order
    temperature: float = 1.0
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))
    extra: dict = field(default_factory=dict)  # training window, metrics, commit, gate, MLflow run
    # Stored since issue 13; None in older model directories (see PriceDirectionModel.load).
    base_rates: list[float] | None = None  # training class frequencies, in CLASSES order
    flat_band_vol: float = 0.0  # > 0: the flat band was this many horizon volatilities where wider
    bar_interval_s: float | None = None  # the most common spacing of the training bars
    session: str | None = None  # "regular" (09:30-15:55 US/Eastern weekdays) or "all"
    edge_reference: list[float] | None = None  # mean calibrated validation forecast, in CLASSES order
    signal_threshold: float | None = None  # |score| to trade on, chosen on validation; None: none paid
    # Stored since issue 18; None in older model directories, whose inputs are then not checked.
    input_ranges: dict | None = None  # {"mean"|"std": [[min, max] per channel]} over training windows

    def labelling(self) -> dict:
        """What decides a window's class from the bars."""
        return {"horizon": self.horizon, "flat_band_bp": self.flat_band_bp, "flat_band_vol": self.flat_band_vol}

    def comparability(self) -> dict:
        """What two models must share to be scored on the same windows with the same labels: the
        labelling, the bar interval and the session (a horizon of 4 bars of 5 minutes is not one
        of 4 bars of an hour)."""
        return {**self.labelling(), "bar_interval_s": self.bar_interval_s, "session": self.session}


@dataclass(frozen=True)
class PriceForecast:
    probabilities: dict[str, float]  # calibrated, in CLASSES order
    expected_return: float  # log return over the horizon beyond the reference forecast: 0 at the reference
    horizon: int
    edges: dict[str, float]  # P(class) - the model's reference forecast
    score: float  # edges["up"] - edges["down"]: the price branch's signal, 0 at the reference
    base_rate_return: float  # the training period's average horizon log return (its drift)
    threshold: float | None  # the model's validated signal threshold
    no_threshold_because: str | None  # where there is none, why


def patchtst_config(num_input_channels: int, num_targets: int, context_length: int, patch_length: int,
                    patch_stride: int, d_model: int, num_attention_heads: int, num_hidden_layers: int, ffn_dim: int,
                    dropout: float, **head) -> PatchTSTConfig:
    """The backbone every bar model here shares: one dropout for all five of PatchTST's, and no
    per-window scaling (features are z-scored with training statistics, and per-window
    scaling would erase levels such as volatility's). `head`: the head's own settings."""
    return PatchTSTConfig(
        num_input_channels=num_input_channels, num_targets=num_targets, context_length=context_length,
        patch_length=patch_length, patch_stride=patch_stride, d_model=d_model,
        num_attention_heads=num_attention_heads, num_hidden_layers=num_hidden_layers, ffn_dim=ffn_dim,
        attention_dropout=dropout, ff_dropout=dropout, path_dropout=dropout, positional_dropout=dropout,
        head_dropout=dropout, scaling=None, **head)


def build_patchtst(
    context_length: int = 512,
    patch_length: int = 16,
    patch_stride: int = 8,
    d_model: int = 64,
    num_attention_heads: int = 4,
    num_hidden_layers: int = 3,
    ffn_dim: int = 128,
    dropout: float = 0.2,
) -> PatchTSTForClassification:
    config = patchtst_config(len(CHANNELS), len(CLASSES), context_length, patch_length, patch_stride, d_model,
                             num_attention_heads, num_hidden_layers, ffn_dim, dropout,
                             id2label=dict(enumerate(CLASSES)), label2id={c: i for i, c in enumerate(CLASSES)})
    return PatchTSTForClassification(config)


class PriceDirectionModel(BarModel):
    """A PatchTST classifier plus what it needs to turn raw bars into calibrated probabilities."""

    METADATA_CLASS, NETWORK_CLASS, KIND = PriceModelMetadata, PatchTSTForClassification, "price"

    def __init__(self, network: PatchTSTForClassification, metadata: PriceModelMetadata, prefer_gpu: bool = True):
        super().__init__(network, metadata, prefer_gpu)
        self.base_rates = self._base_rates_of(metadata)
        self.reference = (np.asarray(metadata.edge_reference, dtype=np.float64)
                          if metadata.edge_reference is not None else self.base_rates)
        self.no_threshold_because = None if metadata.signal_threshold is not None else (
            "no threshold paid significantly on the price model's validation windows"
            if metadata.edge_reference is not None else
            "the price model predates validated thresholds: retrain it, or set ingress.merge.threshold")
        if metadata.edge_reference is None:
            logger.warning("price model %s predates validated references and thresholds: edges are against its "
                           "base rates and it sets no threshold; retrain it", metadata.version)

    @staticmethod
    def _base_rates_of(metadata: PriceModelMetadata) -> np.ndarray:
        """The training base rates. Models trained before they were stored kept them in
        extra["base_rates"]; a directory without even that (built by hand) gets uniform
        rates, under which the score is the old P(up) - P(down). Both cases are logged."""
        if metadata.base_rates is not None:
            return np.asarray(metadata.base_rates, dtype=np.float64)
        rates = metadata.extra.get("base_rates")
        logger.warning("price model %s has no base_rates in its metadata; edges are against %s", metadata.version,
                       "extra.base_rates" if rates else "uniform rates (1/3 each)")
        return np.array([rates[c] for c in CLASSES] if rates else [1 / len(CLASSES)] * len(CLASSES), dtype=np.float64)

    def window(self, open_, high, low, close, volume) -> np.ndarray:
        """Normalised model input (context_length, channels) from the most recent bars."""
        n = self.min_bars
        if len(close) < n:
            raise ValueError(f"need at least {n} bars, got {len(close)}")
        cols = (np.asarray(x)[-n:] for x in (open_, high, low, close, volume))
        return self.normalise(ohlcv_features(*cols))

    def input_shifts(self, window: np.ndarray) -> list[InputShift] | None:
        """The channels of a normalised window outside what training saw (models.input_range);
        None for a model that does not store its training input ranges."""
        if self.metadata.input_ranges is None:
            return None
        return input_shifts(window, self.metadata.input_ranges, self.metadata.channels)

    @torch.inference_mode()
    def predict_windows(self, windows: np.ndarray) -> list[PriceForecast]:
        """Forecasts for a batch of normalised windows shaped (batch, context_length, channels)."""
        x = torch.as_tensor(np.asarray(windows, dtype=np.float32), device=self.device)
        logits = self.network(past_values=x).prediction_logits.float()
        probs = torch.softmax(logits / self.metadata.temperature, dim=-1).cpu().numpy()
        return [self.forecast(row) for row in probs]

    def forecast(self, probabilities: np.ndarray) -> PriceForecast:
        """A forecast from calibrated class probabilities (CLASSES order), edges included."""
        class_returns = np.asarray(self.metadata.class_mean_returns, dtype=np.float64)
        edges = np.asarray(probabilities, dtype=np.float64) - self.reference
        return PriceForecast(
            probabilities={c: float(p) for c, p in zip(CLASSES, probabilities)},
            expected_return=float(edges @ class_returns),
            horizon=self.metadata.horizon,
            edges={c: float(e) for c, e in zip(CLASSES, edges)},
            score=float(edge_score(probabilities, self.reference)),
            base_rate_return=float(self.base_rates @ class_returns),
            threshold=self.metadata.signal_threshold,
            no_threshold_because=self.no_threshold_because,
        )

