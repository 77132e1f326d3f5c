"""The Ledger: the one deployment that owns the store.

It migrates the schema when it starts (Alembic, once, before any other replica needs the
store), records strategy outcomes by request id (committed before it answers; a resend
replays the first answer; an id reused for other content is a Conflict), serves the
strategy posteriors read from the outcome log, writes prediction records through its
batched writer, logs model loads and failures, settles predictions (directions, and the realised
variance of risk forecasts) and scores them.
Every other replica is stateless and talks to it through typed messages.

Nothing it answers comes from memory that could drift from the store: posteriors are
summed over the log on each call and inserts skip what is already there, so a resend, a
replica killed mid-call, or an old and a new Ledger side by side while Serve replaces one
never count an outcome twice or lose one that was acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np
from ray import serve

from deployments.config import LedgerConfig
from deployments.errors import InvalidInput, one_line
from deployments.messages import ModelLoadEvent, OutcomeBatch, RealisedBars, Record
from deployments.metrics import LedgerMetrics
from deployments.placement_info import replica_devices
from deployments.schemas import (
    BranchReadiness, EvaluationResponse, OutcomesResponse, RealisedResponse, StrategyPosteriorOut,
    StrategyWeightsResponse, SyncResponse, VarBreaches, VolatilityScores,
)
from models.direction import CLASSES
from models.evaluation import direction_scores, hit_rate_by_confidence, information_coefficient, newey_west_lags
from models.risk_scores import kupiec, qlike
from models.strategy_weights import beta_parameters, summarise, thompson_draw
from store.store import OutcomeRow, Store, fingerprint
from store.writer import BatchedWriter

DAY_S = 24 * 3600.0
LOGGED_TABLES = frozenset({"signals", "sentiment_predictions", "price_predictions", "risk_predictions"})
SHOWN_TABLES = LOGGED_TABLES | {"model_promotions"}  # what recent_rows reads for the operator page


def _scores(settled: list[dict]) -> dict:
    """Direction scores of settled predictions, with IC and hit rate by confidence of the served
    score where it was logged. A bar forecast more than once (say through /v1/signal and
    /v1/price/predict) counts once, its latest forecast; predictions of neighbouring bars share
    outcome bars over the horizon, so the IC's Newey-West lags cover at least the horizon."""
    settled = sorted({r["as_of"]: r for r in settled}.values(), key=lambda r: r["as_of"])
    scores = direction_scores(np.array([[r[f"p_{c}"] for c in CLASSES] for r in settled]),
                              [r["realised"] for r in settled])
    scored = [r for r in settled if r["score"] is not None]
    if scored:
        served, realised = (np.array([r[k] for r in scored]) for k in ("score", "realised_return"))
        lags = max(newey_west_lags(len(scored)), max(r["horizon"] for r in scored))
        scores["information_coefficient"] = information_coefficient(served, realised, maxlags=lags)
        scores["hit_rate_by_confidence"] = hit_rate_by_confidence(served, realised)
    return scores


def _volatility_scores(settled: list[dict]) -> list[VolatilityScores]:
    """Per horizon: QLIKE of the served variance and of HAR's on the same settled forecasts, and
    VaR breaches. A bar forecast more than once counts once, its latest forecast."""
    out = []
    for horizon in sorted({r["horizon"] for r in settled}):
        rows = sorted({r["as_of"]: r for r in settled if r["horizon"] == horizon}.values(), key=lambda r: r["as_of"])
        realised = np.array([r["realised_variance"] for r in rows])
        returns = np.array([r["realised_return"] for r in rows])
        with_har = [r for r in rows if r["har_variance"] is not None]
        breaches = {}
        for level in ("var_95", "var_99"):
            hits = returns < -np.array([r[level] for r in rows])
            k = kupiec(hits, 0.05 if level == "var_95" else 0.01) if len(hits) else None
            breaches[level] = VarBreaches(n=len(hits), breaches=int(hits.sum()), rate=float(hits.mean()),
                                          kupiec_p=k["p_value"] if k else None)
        out.append(VolatilityScores(
            horizon=horizon, n=len(rows), qlike=float(qlike([r["variance"] for r in rows], realised).mean()),
            qlike_har=float(qlike([r["har_variance"] for r in with_har],
                                  [r["realised_variance"] for r in with_har]).mean()) if with_har else None,
            n_har=len(with_har), **breaches))
    return out


def _settled_by_version(rows: list[dict], outcome: str) -> dict[str, list[dict]]:
    settled = defaultdict(list)
    for row in rows:
        if row[outcome] is not None:
            settled[row["model_version"]].append(row)
    return settled


def _utc(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, timezone.utc)


@serve.deployment(name="Ledger")
class Ledger:
    def __init__(self, config: LedgerConfig, store_url: str):
        self.config = config.strategies
        self.store = Store(store_url, migrate_schema=True)
        self.metrics = LedgerMetrics()
        self.writer = BatchedWriter(self.store, config.record_interval_s,
                                    on_set_aside=lambda table: self.metrics.set_aside.inc(tags={"table": table}))
        self._db = ThreadPoolExecutor(1, thread_name_prefix="ledger-db")  # store calls off the event loop

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def __del__(self):
        """Serve calls this on a clean shutdown: queued records reach the store first."""
        await self.writer.close()

    # ---- strategy outcomes and posteriors -------------------------------------------------

    async def record_outcomes(self, batch: OutcomeBatch) -> OutcomesResponse:
        """Commits the outcomes of declared strategies (InvalidInput naming the first other one)."""
        for i, o in enumerate(batch.outcomes):
            if o.strategy not in self.config.names:
                raise InvalidInput(f"outcomes[{i}].strategy {o.strategy!r} is not a declared strategy; declared "
                                   f"(ledger.strategies.names): {', '.join(self.config.names)}",
                                   ("outcomes", i, "strategy"))
        now = time.time()
        # What the sender said, in a canonical form (the same instant in another UTC offset is
        # the same content); the server's default timestamp is not part of it.
        said = [{"strategy": o.strategy, "outcome": o.outcome, "id": o.id, "r_multiple": o.r_multiple,
                 "timestamp": o.timestamp.timestamp() if o.timestamp else None} for o in batch.outcomes]
        rows = [OutcomeRow(strategy=o.strategy, win=o.outcome == "win",
                           observed_at=o.timestamp.timestamp() if o.timestamp else now,
                           key=o.id or f"{batch.request_id}#{i}",
                           fingerprint=fingerprint({k: v for k, v in content.items() if k != "id"}),
                           r_multiple=o.r_multiple)
                for i, (o, content) in enumerate(zip(batch.outcomes, said))]
        result, stored = await self._run(self.store.record_outcomes, batch.request_id, fingerprint(said), rows, now)
        for row in stored:
            self.metrics.outcomes.inc(tags={"outcome": "win" if row.win else "loss"})
        return OutcomesResponse(request_id=batch.request_id, **result, weights=await self.strategy_weights())

    async def strategy_weights(self, draw: bool = False) -> StrategyWeightsResponse:
        now, c = time.time(), self.config
        half_life_s = c.half_life_days * DAY_S if c.half_life_days else None
        since, evidence, payoffs = await self._run(self.store.strategy_evidence, now, half_life_s)
        posteriors = summarise(evidence, c.prior_alpha, c.prior_beta, c.credible_level,
                               c.probability_best_samples, c.seed, payoffs)
        draws = thompson_draw(beta_parameters(evidence, c.prior_alpha, c.prior_beta),
                              np.random.default_rng()) if draw else {}
        for p in posteriors:
            self.metrics.probability_best.set(p.probability_best, tags={"strategy": p.strategy})
            self.metrics.mean.set(p.mean, tags={"strategy": p.strategy})
        return StrategyWeightsResponse(
            as_of=_utc(now), credible_level=c.credible_level, half_life_days=c.half_life_days,
            window_start=_utc(since),
            strategies=[StrategyPosteriorOut(**p.__dict__, thompson_draw=draws.get(p.strategy)) for p in posteriors])

    async def sync(self, request_id: str, days: float) -> SyncResponse:
        """From now on the posteriors use only the outcomes of the last `days` days."""
        result = await self._run(self.store.record_sync, request_id, days, time.time())
        return SyncResponse(request_id=request_id, since=_utc(result["since"]), replayed=result["replayed"],
                            weights=await self.strategy_weights())

    # ---- records, promotions, settlement --------------------------------------------------

    async def log(self, records: list[Record]) -> None:
        """Queue prediction and signal rows; the batched writer commits them shortly."""
        for record in records:
            if record.table not in LOGGED_TABLES:  # state changes go through their own methods
                raise ValueError(f"the Ledger logs {sorted(LOGGED_TABLES)}, not {record.table}")
            self.writer.add(record.table, record.row)

    async def record_model_event(self, event: ModelLoadEvent) -> None:
        await self._run(self.store.write, [("model_promotions", {
            "deployment": event.deployment, "model_id": event.model_id or "", "version": event.version or "",
            "source": event.source, "at": event.at, "outcome": "failed" if event.error else "loaded",
            "error": event.error})])

    async def settle(self, bars: RealisedBars) -> RealisedResponse:
        await self.writer.flush()  # predictions queued until now can be settled too
        result = await self._run(self.store.settle, bars.request_id, bars.symbol, bars.bars, time.time())
        return RealisedResponse(request_id=bars.request_id, **result)

    async def evaluate(self, symbol: str, days: float) -> EvaluationResponse:
        """Scores of the settled price and risk predictions of the last `days` days, by model version."""
        await self.writer.flush()
        since = time.time() - days * DAY_S
        rows = await self._run(self.store.price_predictions_since, symbol, since)
        risk_rows = await self._run(self.store.risk_predictions_since, symbol, since)
        return EvaluationResponse(
            symbol=symbol, days=days, since=_utc(since), unsettled=sum(r["realised"] is None for r in rows),
            by_model_version={v: _scores(group) for v, group in _settled_by_version(rows, "realised").items()},
            volatility_unsettled=sum(r["realised_variance"] is None for r in risk_rows),
            volatility_by_model_version={v: _volatility_scores(group) for v, group
                                         in _settled_by_version(risk_rows, "realised_variance").items()})

    async def recent_rows(self, table: str, limit: int, since: float | None = None) -> list[dict]:
        """The newest rows of a logged table or of the promotion log, newest first (reads only:
        the operator page)."""
        if table not in SHOWN_TABLES:
            raise ValueError(f"the Ledger shows {sorted(SHOWN_TABLES)}, not {table}")
        await self.writer.flush()
        return await self._run(self.store.latest, table, limit, since)

    async def status(self) -> BranchReadiness:
        """Ready while the store answers; says how many records wait, were set aside or dropped."""
        try:
            await self._run(self.store.ping)
        except Exception as exc:
            return BranchReadiness(ready=False, state="store_unreachable", reason=f"{one_line(exc)}; check store_url",
                                   **replica_devices("cpu"))
        w = self.writer
        counts = {"waiting": len(w.pending), "set aside": sum(w.set_aside.values()), "dropped": w.dropped}
        return BranchReadiness(ready=True, state="ready", version=f"store schema {self.store.revision}",
                               reason=", ".join(f"{n} records {what}" for what, n in counts.items() if n) or None,
                               **replica_devices("cpu"))
