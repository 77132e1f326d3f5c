"""Price-direction deployment: PatchTST behind a continuous batcher, hot-swappable through user_config.

The model's source (a model directory, or a registry whose production version is loaded)
arrives as user_config, so a promotion that changes only that makes Serve call `reconfigure`
on the live replicas instead of replacing them. `reconfigure` never raises: the new model loads aside
and is swapped in one assignment when it works (requests in flight finish on the old
weights), and when it fails the replica keeps serving the old one and says so (ModelSlot).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.bar_checks import check_bars
from deployments.batcher import ContinuousBatcher
from deployments.config import PriceConfig
from deployments.errors import InvalidInput, each_or_refusal
from deployments.metrics import PriceMetrics
from deployments.model_slot import ModelSlot, default_note
from deployments.placement_info import model_executor
from deployments.schemas import BranchReadiness, InputShift, PriceResponse
from models.direction import flat_band
from models.price_direction import CLASSES, PriceDirectionModel
from models.registry import DEFAULT_PRICE_MODEL, resolve_model_dir

logger = logging.getLogger("ray.serve")

TRAIN_COMMAND = (
    "investiq train --bars ../shared/data/stocks/intraday_5min/SPY_5min.csv --session regular "
    "--registry {model_dir} --promote"
)


@serve.deployment(name="Price")
class PriceDeployment:
    def __init__(self, config: PriceConfig, prefer_gpu: bool, ledger: DeploymentHandle | None):
        default = DEFAULT_PRICE_MODEL if config.default_model else None
        self.slot: ModelSlot[PriceDirectionModel] = ModelSlot(
            "price", lambda source: PriceDirectionModel.load(resolve_model_dir(source, default), prefer_gpu),
            lambda m: (m.metadata.model_id, m.metadata.version, str(m.device)), ledger, config.load_retry,
            lambda source: f"no usable price model at {source}; train one with: "
                           f"{TRAIN_COMMAND.format(model_dir=source)} (if its gate refuses it, "
                           f"`investiq promote --registry {source} --version <version>` serves it by hand)",
            lambda source: default_note(source, default, TRAIN_COMMAND))
        self.metrics = PriceMetrics()
        self.batch_sizes: Counter = Counter()
        self.batcher = ContinuousBatcher(_predict_grouped, model_executor(config.cpu_threads), config.max_batch_size,
                                         self._count_batch)

    async def reconfigure(self, user_config: dict) -> None:
        await self.slot.reconfigure(user_config)

    async def predict(self, bars: dict[str, list[float]]) -> PriceResponse:
        return await self._prediction(self.slot.current(), bars)

    async def predict_many(self, series: list[dict[str, list[float]]]) -> list[PriceResponse | InvalidInput]:
        """A watchlist's series in one call: their windows join the same batches, and a series
        the model refuses comes back as its InvalidInput in its place."""
        model = self.slot.current()  # one model for the whole request, even if a swap happens meanwhile
        return await each_or_refusal(self._prediction(model, bars) for bars in series)

    async def _prediction(self, model: PriceDirectionModel, bars: dict[str, list[float]]) -> PriceResponse:
        check_bars(bars, model.min_bars, model.metadata.bar_interval_s, model.metadata.session, "price")
        window = model.window(bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"])
        shifts = model.input_shifts(window)
        forecast = await self.batcher.submit((model, window))
        meta = model.metadata
        # The band this prediction is labelled with, as training labelled the same bar (with a
        # volatility band, from the bars up to it), so settlement needs nothing but this figure.
        band = np.atleast_1d(flat_band(np.asarray(bars["close"]), meta.horizon, meta.flat_band_bp,
                                       meta.flat_band_vol))[-1]
        self.metrics.predictions.inc(tags={"direction": max(CLASSES, key=forecast.edges.get)})
        return PriceResponse(model_id=meta.model_id, version=meta.version, horizon=forecast.horizon,
                             probabilities=forecast.probabilities, edges=forecast.edges, score=forecast.score,
                             expected_return=forecast.expected_return, base_rate_return=forecast.base_rate_return,
                             threshold=forecast.threshold, no_threshold_because=forecast.no_threshold_because,
                             flat_band_bp=float(band) * 1e4,
                             out_of_distribution=None if shifts is None else [InputShift(**asdict(s)) for s in shifts])

    def _count_batch(self, size: int, seconds: float) -> None:
        self.batch_sizes[size] += 1
        self.metrics.batch_size.observe(size)

    async def status(self) -> BranchReadiness:
        return self.slot.status()

    async def registry_decisions(self) -> list[dict]:
        return self.slot.registry_decisions()

    async def get_stats(self) -> dict:
        return {"batch_sizes": dict(self.batch_sizes), "load_attempts": self.slot.load_attempts}


def _predict_grouped(items):
    """Run each model on its own windows: a batch can straddle a hot swap."""
    out = [None] * len(items)
    groups: dict[int, list[int]] = {}
    for i, (model, _) in enumerate(items):
        groups.setdefault(id(model), []).append(i)
    for idx in groups.values():
        model = items[idx[0]][0]
        for i, forecast in zip(idx, model.predict_windows(np.stack([items[i][1] for i in idx]))):
            out[i] = forecast
    return out
