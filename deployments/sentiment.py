"""Sentiment deployment: FinBERT behind a continuous batcher, with an LRU+TTL cache keyed by text.

The model loads in the background (ModelSlot), so a slow or offline hub never blocks the
replica's start; until it is ready, calls raise ModelNotReady with the reason and the
ingress marks the branch degraded. A failed load is logged with its full reason and retried
with doubling waits, so the branch heals by itself once the model becomes loadable (the hub
comes back, or the configured local directory appears).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from cachetools import TTLCache
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.batcher import ContinuousBatcher
from deployments.config import SentimentConfig
from deployments.metrics import SentimentMetrics
from deployments.model_slot import ModelSlot
from deployments.placement_info import model_executor
from deployments.schemas import BranchReadiness, SentimentResponse, SentimentResult
from models.sentiment import SentimentModel, SentimentScore


@serve.deployment(name="Sentiment")
class SentimentDeployment:
    def __init__(self, config: SentimentConfig, prefer_gpu: bool, ledger: DeploymentHandle | None):
        self.config = config
        self.slot: ModelSlot[SentimentModel] = ModelSlot(
            "sentiment", lambda source: SentimentModel(source, prefer_gpu=prefer_gpu),
            lambda m: (m.model_id, m.version, str(m.device)), ledger, config.load_retry,
            lambda source: f"sentiment model '{source}' could not be loaded; if the hub is unreachable, "
                           "set sentiment.model to a local directory holding the checkpoint")
        self.cache: TTLCache | None = (
            TTLCache(maxsize=config.cache_size, ttl=config.cache_ttl_s) if config.cache_size else None
        )
        self.stats = {"cache_hits": 0, "cache_misses": 0, "batch_sizes": Counter(), "model_seconds": 0.0}
        self.metrics = SentimentMetrics()
        self.batcher: ContinuousBatcher[str, SentimentScore] = ContinuousBatcher(
            lambda texts: self.slot.current().score(texts), model_executor(config.cpu_threads),
            config.max_batch_size, self._count_batch)
        self._first_load = asyncio.get_running_loop().create_task(self.slot.load(config.model))

    async def score(self, texts: list[str]) -> SentimentResponse:
        return (await self.score_groups([texts]))[0]

    async def score_groups(self, groups: list[list[str]]) -> list[SentimentResponse]:
        """One answer per group of texts (a watchlist's symbols): every text joins the same
        batches, and each group's score is the mean of its texts'."""
        model = self.slot.current()
        scores = await asyncio.gather(*(self._score_cached(t) for texts in groups for t in texts))
        answers, start = [], 0
        for texts in groups:
            mine = scores[start:start + len(texts)]
            start += len(texts)
            answers.append(SentimentResponse(model_id=model.model_id, version=model.version,
                                             results=[SentimentResult(**s.__dict__) for s in mine],
                                             score=sum(s.score for s in mine) / len(mine)))
        return answers

    async def _score_cached(self, text: str) -> SentimentScore:
        if self.cache is not None and (hit := self.cache.get(text)) is not None:
            self.stats["cache_hits"] += 1
            self.metrics.cache.inc(tags={"result": "hit"})
            return hit
        self.stats["cache_misses"] += 1
        self.metrics.cache.inc(tags={"result": "miss"})
        score = await self.batcher.submit(text)
        if self.cache is not None:
            self.cache[text] = score
        return score

    def _count_batch(self, size: int, seconds: float) -> None:
        self.stats["batch_sizes"][size] += 1
        self.stats["model_seconds"] += seconds
        self.metrics.batch_size.observe(size)

    async def status(self) -> BranchReadiness:
        return self.slot.status()

    async def get_stats(self) -> dict:
        return {**self.stats, "batch_sizes": dict(self.stats["batch_sizes"])}
