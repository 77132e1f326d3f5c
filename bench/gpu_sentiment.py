"""GPU: FinBERT-size sentiment in one 0.5-GPU replica at half precision vs a bare batched
loop on the same card, and p99 latency at a fixed request rate. For an H100-class machine;
never needed by the tests, which run it on CPU with --tiny so that it does not rot.

1. Bare: SentimentModel on the GPU (fp16), batches of `max_batch_size` texts in a loop.
2. Served: `serve run serve_config.yaml` (the sentiment replica gets 0.5 GPU by the plan),
   /v1/sentiment with one text per request at high concurrency: texts per second.
3. Open loop: requests at a fixed rate (`--rate` per second) for `--seconds`: p50 / p99.
Prints a table and writes bench/results/gpu_sentiment.json with the device name.

    python bench/gpu_sentiment.py                # on the GPU machine
    python bench/gpu_sentiment.py --tiny         # CPU, seconds (smoke test)
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

from common import HEADLINE, bench_models, bench_parser, percentiles, save_result, wait_ready
from graph_latency import load


def bare_throughput(bert: Path, batch_size: int, batches: int) -> float:
    from models.sentiment import SentimentModel

    model = SentimentModel(str(bert))  # CUDA at fp16 when there is a GPU
    texts = [f"{HEADLINE} {i}" for i in range(batch_size)]
    for _ in range(3):
        model.score(texts)
    _sync()
    start = time.perf_counter()
    for _ in range(batches):
        model.score(texts)
    _sync()
    return batches * batch_size / (time.perf_counter() - start)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


async def open_loop(base: str, rate: float, seconds: float) -> dict:
    """Requests sent on a fixed schedule, whatever the answers' speed: latency under load."""
    import httpx

    latencies, failures = [], 0

    async def one(client, i):
        nonlocal failures
        start = time.perf_counter()
        r = await client.post("/v1/sentiment", json={"texts": [f"{HEADLINE} #{i}"]})
        if r.status_code == 200:
            latencies.append((time.perf_counter() - start) * 1e3)
        else:
            failures += 1

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=512)) as client:
        t0, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client, i)))
        await asyncio.gather(*tasks)
    return {"rate_per_s": rate, **percentiles(latencies), "failures": failures}


def main() -> None:
    parser = bench_parser(__doc__, "gpu_sentiment", port=8768)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.tiny:
        args.requests, args.concurrency, args.rate, args.seconds = 32, 8, 20.0, 1.0

    import httpx
    import torch

    from tests.support import serve_config_with, serve_run

    work, bert, price = bench_models("gpu-sentiment-", args.tiny)
    results = {"bare_texts_per_s": bare_throughput(bert, args.batch_size, 10 if args.tiny else 200)}
    base = f"http://127.0.0.1:{args.port}"
    config = serve_config_with(bert, price, work / "var", args.port)
    config["applications"][0]["args"]["sentiment"].update(max_batch_size=args.batch_size, cache_size=0)
    try:
        with serve_run(config, work) as (proc, log_path), httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, proc, log_path=log_path)
            results["readyz"] = client.get("/readyz").json()["branches"]["sentiment"]
            body = {"texts": [HEADLINE]}
            asyncio.run(load(base, "/v1/sentiment", body, args.concurrency, args.concurrency))
            served = asyncio.run(load(base, "/v1/sentiment", body, args.concurrency, args.requests))
            results["served"] = served
            results["served_texts_per_s"] = served["requests_per_s"]
            results["open_loop"] = asyncio.run(open_loop(base, args.rate, args.seconds))
    except BaseException:
        print(f"kept {work} for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)

    results["served_over_bare"] = results["served_texts_per_s"] / results["bare_texts_per_s"]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(f"device: {device}; sentiment replica: {results['readyz'].get('device')} "
          f"gpu_ids {results['readyz'].get('gpu_ids')} memory {results['readyz'].get('gpu_memory_mb')}")
    print(f"bare batched loop (batch {args.batch_size}): {results['bare_texts_per_s']:.0f} texts/s")
    print(f"served, {args.concurrency} concurrent:      {results['served_texts_per_s']:.0f} texts/s "
          f"({results['served_over_bare']:.0%} of bare)")
    ol = results["open_loop"]
    print(f"open loop at {ol['rate_per_s']:g}/s: p50 {ol['p50']:.1f} ms, p99 {ol['p99']:.1f} ms, "
          f"{ol['failures']} failures")
    save_result(args.out, "python bench/gpu_sentiment.py" + (" --tiny" if args.tiny else ""),
                {k: v for k, v in vars(args).items() if k != "out"}, results)


if __name__ == "__main__":
    main()
