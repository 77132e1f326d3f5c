"""The continuous batcher: a lone request runs at once, requests that arrive while a batch
runs make the next batch together, a request whose caller gave up is not run, and a failure
(of the model, or of the batcher itself) reaches every caller instead of leaving one waiting."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from deployments.batcher import ContinuousBatcher


class Model:
    """Doubles numbers; the first batch holds until `release` is set; fails on a negative."""

    def __init__(self):
        self.batches: list[list[int]] = []
        self.release = threading.Event()

    def run(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.release.wait(5)
        if any(i < 0 for i in items):
            raise ValueError("negative input")
        return [2 * i for i in items]


def batcher(model: Model, max_batch_size: int = 4) -> ContinuousBatcher:
    sizes = []
    b = ContinuousBatcher(model.run, ThreadPoolExecutor(1), max_batch_size, lambda n, s: sizes.append(n))
    b.sizes = sizes
    return b


async def holding_a_batch(model: Model) -> tuple[ContinuousBatcher, asyncio.Future]:
    """A batcher whose first batch (the request 1) is running and held until model.release."""
    b = batcher(model)
    first = asyncio.ensure_future(b.submit(1))
    await asyncio.sleep(0.05)
    return b, first


def test_requests_arriving_while_a_batch_runs_make_the_next_batch_together():
    async def scenario():
        model = Model()
        b, first = await holding_a_batch(model)
        assert model.batches == [[1]]  # the lone request runs at once, alone
        rest = [asyncio.ensure_future(b.submit(i)) for i in range(10, 16)]
        await asyncio.sleep(0.05)
        model.release.set()
        assert await first == 2 and await asyncio.gather(*rest) == [20, 22, 24, 26, 28, 30]
        return model.batches, b.sizes

    batches, sizes = asyncio.run(scenario())
    assert batches == [[1], [10, 11, 12, 13], [14, 15]]  # everything that waited, up to max_batch_size
    assert sizes == [1, 4, 2]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_runs():
    async def scenario():
        model = Model()
        model.release.set()
        b = batcher(model)
        with pytest.raises(ValueError, match="negative input"):
            await b.submit(-1)
        return await b.submit(3)

    assert asyncio.run(scenario()) == 6


def test_a_request_whose_caller_gave_up_is_not_run():
    async def scenario():
        model = Model()
        b, first = await holding_a_batch(model)
        abandoned = [asyncio.ensure_future(b.submit(i)) for i in (7, 8)]
        kept = asyncio.ensure_future(b.submit(9))
        await asyncio.sleep(0.01)
        for task in abandoned:
            task.cancel()
        model.release.set()
        return await first, await kept, model.batches

    assert asyncio.run(scenario()) == (2, 18, [[1], [9]])


def test_a_model_that_answers_too_few_or_a_stats_hook_that_fails_leaves_no_caller_waiting():
    async def scenario():
        b = ContinuousBatcher(lambda items: items[:-1], ThreadPoolExecutor(1), 4)
        with pytest.raises(RuntimeError, match="1 results for 2 inputs"):
            await asyncio.gather(b.submit(1), b.submit(2))
        hooked = ContinuousBatcher(lambda items: items, ThreadPoolExecutor(1), 4, lambda n, s: 1 / 0)
        return await asyncio.wait_for(hooked.submit(5), 5)

    assert asyncio.run(scenario()) == 5


def test_a_stopped_batcher_fails_the_requests_it_held():
    async def scenario():
        model = Model()
        b, running = await holding_a_batch(model)
        waiting = asyncio.ensure_future(b.submit(2))
        await asyncio.sleep(0.01)
        b.worker.cancel()
        model.release.set()
        with pytest.raises(RuntimeError, match="the batcher stopped"):
            await waiting
        with pytest.raises(RuntimeError, match="the batcher stopped"):
            await running

    asyncio.run(scenario())
