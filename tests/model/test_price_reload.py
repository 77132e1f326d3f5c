"""The price deployment's hot reload, on its class without Serve: swap, keep on failure, not-ready.
(`predict` itself needs a replica context for @serve.batch; the Serve tests cover it.)"""

import asyncio

import pytest

from deployments.config import PriceConfig
from deployments.errors import InvalidInput, ModelNotReady
from deployments.price import PriceDeployment
from store.store import sqlite_url
from tests.support import TINY_CONTEXT, make_tiny_price_model, random_walk_bars

BARS = {k: v for k, v in random_walk_bars(TINY_CONTEXT + 1).items() if k != "timestamps"}


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def replica(tmp_path):
    return PriceDeployment.func_or_class(PriceConfig(), False, sqlite_url(tmp_path / "store"))


def test_reconfigure_swaps_versions_in_place(replica, tmp_path):
    async def scenario():
        await replica.reconfigure({"model_dir": str(make_tiny_price_model(tmp_path / "v1", "v1"))})
        first = (await replica.status())["version"]
        await replica.reconfigure({"model_dir": str(make_tiny_price_model(tmp_path / "v2", "v2"))})
        return first, (await replica.status())["version"]

    assert run(scenario()) == ("v1", "v2")
    # Each version that started serving is in the store.
    assert [p["version"] for p in replica.store.promotions()] == ["v1", "v2"]


def test_a_bad_promotion_keeps_the_old_model(replica, tmp_path):
    async def scenario():
        await replica.reconfigure({"model_dir": str(make_tiny_price_model(tmp_path / "v1", "v1"))})
        with pytest.raises(RuntimeError, match="still serving"):
            await replica.reconfigure({"model_dir": str(tmp_path / "missing")})
        return (await replica.status())["version"]

    assert run(scenario()) == "v1"


def test_no_model_is_not_ready_with_the_command(replica, tmp_path):
    async def scenario():
        await replica.reconfigure({"model_dir": str(tmp_path / "missing")})
        status = await replica.status()
        with pytest.raises(ModelNotReady, match="investiq train"):
            await replica.predict(BARS)
        return status

    status = run(scenario())
    assert status["ready"] is False and "investiq train" in status["reason"]


def test_too_few_bars_is_an_input_error_naming_the_minimum(replica, tmp_path):
    async def scenario():
        await replica.reconfigure({"model_dir": str(make_tiny_price_model(tmp_path / "v1"))})
        short = {k: v[:5] for k, v in BARS.items()}
        with pytest.raises(InvalidInput, match=f"at least {TINY_CONTEXT + 1}") as error:
            await replica.predict(short)
        return error.value.loc

    assert run(scenario()) == ("bars",)


def test_a_model_trained_into_the_configured_directory_is_picked_up(replica, tmp_path):
    async def scenario():
        await replica.reconfigure({"model_dir": str(tmp_path / "production")})
        before = await replica.status()
        make_tiny_price_model(tmp_path / "production", "fresh")
        return before, await replica.status()

    before, after = run(scenario())
    assert before["ready"] is False
    assert after["ready"] is True and after["version"] == "fresh"
