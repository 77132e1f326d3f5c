"""A PatchTST volatility model served by the Volatility deployment in a running app: named in
the answer, its risk block read off its own quantiles, and a window unlike its training ones
degrading the branch (shown, not actionable), as for price."""

import pytest
from ray import serve

from deployments.config import IngressConfig, PriceConfig, VolatilityConfig
from deployments.ingress import SignalIngress
from deployments.price import PriceDeployment
from deployments.volatility import VolatilityDeployment
from tests.serve.fakes import FailingBranch
from tests.support import TINY_CONTEXT, random_walk_bars, random_walk_frame, wait_until
from training.train_volatility import VolatilityTrainConfig, train_volatility

SMALL = {"ray_actor_options": {"num_cpus": 0.05}}
TINY = VolatilityTrainConfig(horizons=(4, 8), context_length=TINY_CONTEXT, patch_length=8, patch_stride=8, d_model=8,
                             num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=1, sample_step=4)


@pytest.fixture(scope="module")
def patchtst(http, tiny_price_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("patchtst-volatility") / "model"
    train_volatility(random_walk_frame(3000, seed=3), TINY, model_dir, version="ptv-1", session="all")
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(tiny_price_dir)}).bind(
        PriceConfig(), False, None)
    volatility = VolatilityDeployment.options(**SMALL, user_config={"model_dir": str(model_dir)}).bind(
        VolatilityConfig(), False, None)
    ingress = IngressConfig(shadow=False, quorum=["price", "volatility"])
    serve.run(SignalIngress.options(**SMALL).bind(FailingBranch.bind(), price, volatility, FailingBranch.bind(),
                                                  ingress), name="patchtst-vol", route_prefix="/patchtst-vol")
    wait_until(lambda: http.get("/patchtst-vol/readyz").json()["branches"]["volatility"]["ready"], 60,
               "the PatchTST volatility model served")
    yield http
    serve.delete("patchtst-vol")


def test_a_patchtst_volatility_model_gives_the_risk_block_and_flags_unfamiliar_windows(patchtst):
    bars = random_walk_bars(TINY_CONTEXT + 20, seed=4)
    signal = patchtst.post("/patchtst-vol/v1/signal", json={"symbol": "SPY", "bars": bars}).json()
    assert signal["model_versions"]["volatility"] == "patchtst-volatility@ptv-1"
    risk = signal["risk"]
    assert risk["forecaster"] == "patchtst" and risk["out_of_distribution"] == []
    assert [h["horizon"] for h in risk["horizons"]] == [4, 8]
    assert all(0 < h["var_95"] < h["var_99"] and h["har_variance"] is None for h in risk["horizons"])  # < a week
    assert "volatility" not in [d["branch"] for d in signal["degraded"]]
    # Volume all 0: a window no training window was like. The forecast is shown, the branch degraded.
    frozen = {**bars, "volume": [0.0] * len(bars["volume"])}
    signal = patchtst.post("/patchtst-vol/v1/signal", json={"symbol": "SPY", "bars": frozen}).json()
    degraded = {d["branch"]: d["category"] for d in signal["degraded"]}
    assert degraded["volatility"] == "out_of_distribution" and signal["risk"]["out_of_distribution"]
    assert "volatility degraded (out_of_distribution)" in signal["not_actionable_because"]
