"""What batching buys: /v1/sentiment throughput at 16 concurrent requests, batched
(max_batch_size 16) vs unbatched (max_batch_size 1), each under `serve run` with the same
FinBERT-size model and the cache off. Prints a table, writes bench/results/batching_gain.json.

    python bench/batching_gain.py          # full size (a few minutes)
    python bench/batching_gain.py --tiny   # seconds: the smoke test's settings
"""

from __future__ import annotations

import asyncio
import shutil
import sys

from common import HEADLINE, bench_models, bench_parser, save_result, wait_ready
from graph_latency import load

CONCURRENCY = 16


def main() -> None:
    parser = bench_parser(__doc__, "batching_gain", port=8767)
    parser.add_argument("--requests", type=int, default=320)
    args = parser.parse_args()
    n = 32 if args.tiny else args.requests

    import httpx

    from tests.support import serve_config_with, serve_run

    work, bert, price = bench_models("batching-", args.tiny)
    base = f"http://127.0.0.1:{args.port}"
    results = {}
    try:
        for label, batch_size in (("batched", 16), ("unbatched", 1)):
            config = serve_config_with(bert, price, work / "var", args.port)
            sentiment = config["applications"][0]["args"]["sentiment"]
            sentiment.update(max_batch_size=batch_size, cache_size=0)
            with serve_run(config, work / label) as (proc, log_path), \
                    httpx.Client(base_url=base, timeout=60) as client:
                wait_ready(client, proc, log_path=log_path)
                asyncio.run(load(base, "/v1/sentiment", {"texts": [HEADLINE]}, CONCURRENCY, CONCURRENCY))
                results[label] = asyncio.run(load(base, "/v1/sentiment", {"texts": [HEADLINE]}, CONCURRENCY, n))
    except BaseException:
        print(f"kept {work} for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)

    gain = results["batched"]["requests_per_s"] / results["unbatched"]["requests_per_s"]
    print(f"{'/v1/sentiment, 16 concurrent':30s} {'req/s':>7s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for label, r in results.items():
        print(f"{label:30s} {r['requests_per_s']:7.1f} {r['client']['p50']:8.1f} {r['client']['p99']:8.1f}")
    print(f"batching gain: {gain:.2f}x")
    save_result(args.out, "python bench/batching_gain.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "requests": n, "concurrency": CONCURRENCY}, {**results, "gain": gain})


if __name__ == "__main__":
    main()
