"""Sentiment deployment: FinBERT behind `@serve.batch`, with an LRU+TTL cache keyed by text.

The model loads on the replica's torch thread in the background, so a slow or offline hub
never blocks the replica's start (offline, the hub client retries for about 45 s before it gives up); until it is
ready, calls raise ModelNotReady with the reason, and the ingress marks the branch degraded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from cachetools import TTLCache
from ray import serve

from deployments.config import SentimentConfig
from deployments.errors import ModelNotReady
from deployments.metrics import SentimentMetrics
from deployments.placement_info import model_executor, replica_devices
from models.sentiment import SentimentModel, SentimentScore

logger = logging.getLogger("ray.serve")


@serve.deployment(name="Sentiment")
class SentimentDeployment:
    def __init__(self, config: SentimentConfig, prefer_gpu: bool):
        self.config = config
        self.model: SentimentModel | None = None
        self.state, self.reason = "loading", f"loading {config.model}"
        self.cache: TTLCache | None = (
            TTLCache(maxsize=config.cache_size, ttl=config.cache_ttl_s) if config.cache_size else None
        )
        self.stats = {"cache_hits": 0, "cache_misses": 0, "batch_sizes": Counter(), "model_seconds": 0.0}
        self.batches_running = 0
        self.metrics = SentimentMetrics()
        self._score_batch.set_max_batch_size(config.max_batch_size)
        self.executor = model_executor(config.cpu_threads)
        self.executor.submit(self._load, prefer_gpu)

    def _load(self, prefer_gpu: bool) -> None:
        try:
            self.model = SentimentModel(self.config.model, prefer_gpu=prefer_gpu)
            self.state, self.reason = "ready", None
            self.metrics.model.serving(self.model.model_id, self.model.version)
            logger.info("sentiment model %s ready on %s", self.config.model, self.model.device)
        except Exception as exc:  # the replica stays up and reports why
            self.state = "unavailable"
            self.reason = (
                f"sentiment model '{self.config.model}' could not be loaded ({type(exc).__name__}); "
                "if the hub is unreachable, set sentiment.model to a local directory holding the checkpoint"
            )
            logger.error(self.reason)

    async def score(self, texts: list[str]) -> dict:
        if self.model is None:
            raise ModelNotReady(self.reason)
        scores = await asyncio.gather(*(self._score_cached(t) for t in texts))
        return {
            "model_id": self.model.model_id,
            "version": self.model.version,
            "results": [s.__dict__ for s in scores],
            "score": sum(s.score for s in scores) / len(scores),
        }

    async def _score_cached(self, text: str) -> SentimentScore:
        if self.cache is not None and (hit := self.cache.get(text)) is not None:
            self.stats["cache_hits"] += 1
            self.metrics.cache.inc(tags={"result": "hit"})
            return hit
        self.stats["cache_misses"] += 1
        self.metrics.cache.inc(tags={"result": "miss"})
        # Wait for company only while the model is busy anyway: a lone request runs at once.
        self._score_batch.set_batch_wait_timeout_s(self.config.batch_wait_timeout_s if self.batches_running else 0.0)
        score = await self._score_batch(text)
        if self.cache is not None:
            self.cache[text] = score
        return score

    @serve.batch
    async def _score_batch(self, texts: list[str]) -> list[SentimentScore]:
        self.stats["batch_sizes"][len(texts)] += 1
        self.metrics.batch_size.observe(len(texts))
        start = time.perf_counter()
        self.batches_running += 1
        try:  # off the event loop, so requests keep queueing into the next batch meanwhile
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.model.score, texts)
        finally:
            self.batches_running -= 1
            self.stats["model_seconds"] += time.perf_counter() - start

    async def status(self) -> dict:
        model = self.model
        return {"ready": model is not None, "state": self.state, "reason": self.reason,
                "model_id": self.config.model, "version": model.version if model else None,
                **replica_devices(str(model.device) if model else None)}

    async def get_stats(self) -> dict:
        return {**self.stats, "batch_sizes": dict(self.stats["batch_sizes"])}
