"""Price-direction deployment: PatchTST behind `@serve.batch`, hot-swappable through user_config.

`reconfigure({"model_dir": ...})` loads the new model aside and swaps it in one assignment,
so requests in flight finish on the old weights and no request fails during a promotion.
A missing model leaves the replica up and not ready, naming the command that makes one;
while it has no model it looks for the directory again on each status check or request,
so a model trained into the configured directory is picked up without a redeploy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
from ray import serve

from deployments.config import PriceConfig
from deployments.errors import InvalidInput, ModelNotReady
from deployments.metrics import PriceMetrics
from deployments.placement_info import model_executor, replica_devices
from models.price_direction import CLASSES, METADATA_FILE, PriceDirectionModel
from models.registry import resolve_model_dir
from store.store import Store

logger = logging.getLogger("ray.serve")

TRAIN_COMMAND = (
    "investiq train --bars ../shared/data/stocks/intraday_5min/SPY_5min.csv --session regular "
    "--registry {model_dir} --promote"
)


@serve.deployment(name="Price")
class PriceDeployment:
    def __init__(self, config: PriceConfig, prefer_gpu: bool, store_url: str):
        self.prefer_gpu = prefer_gpu
        self.store = Store(store_url)
        self.metrics = PriceMetrics()
        self.model: PriceDirectionModel | None = None
        self.model_dir: str | None = None  # the directory the current model came from
        self.wanted_dir: str | None = None  # the directory user_config asks for
        self.state, self.reason = "loading", "waiting for user_config"
        self.batch_sizes: Counter = Counter()
        self._predict_batch.set_max_batch_size(config.max_batch_size)
        self._predict_batch.set_batch_wait_timeout_s(config.batch_wait_timeout_s)
        self.executor = model_executor(config.cpu_threads)

    async def reconfigure(self, user_config: dict) -> None:
        """`model_dir` is a model directory, or a registry whose production version is loaded."""
        model_dir = self.wanted_dir = str(user_config["model_dir"])
        try:
            model = await asyncio.get_running_loop().run_in_executor(self.executor, _load, model_dir, self.prefer_gpu)
        except Exception as exc:
            if self.model is None:
                self.state = "unavailable"
                self.reason = (
                    f"no usable price model at {model_dir} ({type(exc).__name__}); "
                    f"train one with: {TRAIN_COMMAND.format(model_dir=model_dir)}"
                )
                logger.warning(self.reason)
                return
            # Keep serving the model we have; a bad promotion must not take the branch down.
            raise RuntimeError(f"price model at {model_dir} did not load, still serving {self.model_dir}: {exc}")
        self.model, self.model_dir = model, model_dir
        self.state, self.reason = "ready", None
        meta = model.metadata
        self.metrics.model.serving(meta.model_id, meta.version)
        self.store.record_promotion("price", meta.model_id, meta.version, str(Path(model_dir).resolve()), time.time())
        logger.info("price model %s version %s loaded from %s", meta.model_id, meta.version, Path(model_dir).resolve())

    async def _load_if_appeared(self) -> None:
        if self.model is None and self.wanted_dir and _model_exists(self.wanted_dir):
            await self.reconfigure({"model_dir": self.wanted_dir})

    async def predict(self, bars: dict[str, list[float]]) -> dict:
        await self._load_if_appeared()
        model = self.model  # one model for the whole request, even if a swap happens meanwhile
        if model is None:
            raise ModelNotReady(self.reason)
        if len(bars["close"]) < model.min_bars:
            raise InvalidInput(
                f"bars has {len(bars['close'])} bars; this model needs at least {model.min_bars}", ("bars",)
            )
        window = model.window(bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"])
        forecast = await self._predict_batch((model, window))
        meta = model.metadata
        self.metrics.predictions.inc(tags={"direction": max(CLASSES, key=forecast.probabilities.get)})
        return {"model_id": meta.model_id, "version": meta.version, "horizon": forecast.horizon,
                "probabilities": forecast.probabilities, "expected_return": forecast.expected_return,
                "flat_band_bp": meta.flat_band_bp}

    @serve.batch
    async def _predict_batch(self, items: list[tuple[PriceDirectionModel, np.ndarray]]) -> list:
        self.batch_sizes[len(items)] += 1
        self.metrics.batch_size.observe(len(items))
        return await asyncio.get_running_loop().run_in_executor(self.executor, _predict_grouped, items)

    async def status(self) -> dict:
        await self._load_if_appeared()
        model = self.model
        return {"ready": model is not None, "state": self.state, "reason": self.reason,
                "model_id": model.metadata.model_id if model else None,
                "version": model.metadata.version if model else None,
                **replica_devices(str(model.device) if model else None)}

    async def get_stats(self) -> dict:
        return {"batch_sizes": dict(self.batch_sizes)}


def _load(model_dir: str, prefer_gpu: bool) -> PriceDirectionModel:
    return PriceDirectionModel.load(resolve_model_dir(model_dir), prefer_gpu)


def _model_exists(model_dir: str) -> bool:
    try:
        return (resolve_model_dir(model_dir) / METADATA_FILE).is_file()
    except (FileNotFoundError, KeyError):
        return False


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
