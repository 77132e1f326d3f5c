"""Volatility deployment: the risk block (per horizon: volatility, return interval, VaR, a
volatility-targeted position scale), hot-swappable through user_config like Price.

It serves whatever volatility model its registry's production names: HAR-RV (the report's
best forecaster) or a PatchTST volatility model the gate admitted; while the registry has no
production version, the embedded default (a HAR model on QQQ daily bars, models/defaults). The same
ModelSlot life cycle as every model server: load aside, swap on success, keep serving and say
so on failure, retry while there is none.
"""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.bar_checks import check_bars
from deployments.config import VolatilityConfig
from deployments.errors import InvalidInput, each_or_refusal
from deployments.model_slot import ModelSlot, default_note
from deployments.schemas import BranchReadiness, HorizonRisk, InputShift, RiskResponse
from models.har_model import HarVolatilityModel, load_volatility_model
from models.registry import DEFAULT_VOLATILITY_MODEL, resolve_model_dir
from models.risk import ReturnDistribution, position_scale
from models.volatility import bars_per_year

logger = logging.getLogger("ray.serve")

FIT_COMMAND = (
    "investiq train-volatility --bars ../shared/data/stocks/intraday_5min/SPY_5min.csv --session regular "
    "--registry {model_dir} --promote"
)


def horizon_risk(d: ReturnDistribution, har_variance: float | None, per_year: float,
                 config: VolatilityConfig) -> HorizonRisk:
    return HorizonRisk(horizon=d.horizon, variance=d.variance, har_variance=har_variance, volatility=d.volatility,
                       return_std=d.return_std,
                       interval_90=[d.quantile(0.05), d.quantile(0.95)], var_95=d.value_at_risk(0.95),
                       var_99=d.value_at_risk(0.99),
                       position_scale=position_scale(d.return_std, d.horizon, per_year,
                                                     config.target_annual_volatility, config.max_position_scale))


@serve.deployment(name="Volatility")
class VolatilityDeployment:
    def __init__(self, config: VolatilityConfig, prefer_gpu: bool, ledger: DeploymentHandle | None):
        self.config = config
        default = DEFAULT_VOLATILITY_MODEL if config.default_model else None
        self.slot = ModelSlot(
            "volatility", lambda source: load_volatility_model(resolve_model_dir(source, default), prefer_gpu),
            lambda m: (m.metadata.model_id, m.metadata.version, str(m.device)), ledger, config.load_retry,
            lambda source: f"no usable volatility model at {source}; fit one with: "
                           f"{FIT_COMMAND.format(model_dir=source)}",
            lambda source: default_note(source, default, FIT_COMMAND))
        # One inference thread, which does not import torch: a replica serving HAR never needs it
        # (a PatchTST model runs with the thread count Ray gives the replica).
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="volatility")

    async def reconfigure(self, user_config: dict) -> None:
        await self.slot.reconfigure(user_config)

    async def forecast(self, bars: dict[str, list[float]]) -> RiskResponse:
        return await self._forecast(self.slot.current(), bars)

    async def forecast_many(self, series: list[dict[str, list[float]]]) -> list[RiskResponse | InvalidInput]:
        """A watchlist's series in one call; a series the model refuses comes back as its
        InvalidInput in its place."""
        model = self.slot.current()  # one model for the whole request, even if a swap happens meanwhile
        return await each_or_refusal(self._forecast(model, bars) for bars in series)

    async def _forecast(self, model, bars: dict[str, list[float]]) -> RiskResponse:
        meta = model.metadata
        check_bars(bars, model.min_bars, meta.bar_interval_s, meta.session, "volatility")
        distributions, shifts, benchmark = await asyncio.get_running_loop().run_in_executor(
            self.executor, _distributions, model, bars)
        if not all(math.isfinite(d.variance) and math.isfinite(d.value_at_risk(0.99)) for d in distributions):
            raise InvalidInput("these bars give no finite variance (a high/low range or a move too large for "
                               "floating point): check bars.high, bars.low and bars.close", ("bars",))
        per_year = meta.bars_per_year or bars_per_year(meta.bar_interval_s)
        return RiskResponse(
            model_id=meta.model_id, version=meta.version,
            forecaster="har" if isinstance(model, HarVolatilityModel) else "patchtst",
            target_annual_volatility=self.config.target_annual_volatility,
            horizons=[horizon_risk(d, b, per_year, self.config)
                      for d, b in zip(distributions, benchmark or [None] * len(distributions))],
            out_of_distribution=None if shifts is None else [InputShift(**asdict(s)) for s in shifts])

    async def status(self) -> BranchReadiness:
        return self.slot.status()

    async def registry_decisions(self) -> list[dict]:
        return self.slot.registry_decisions()


def _distributions(model, bars: dict):
    """(return distributions, input shifts, HAR's variances) on the inference thread."""
    distributions, shifts = model.forecast_bars(bars)
    if isinstance(model, HarVolatilityModel):  # its forecast is the benchmark
        return distributions, shifts, [d.variance for d in distributions]
    return distributions, shifts, model.benchmark_variances(bars)
