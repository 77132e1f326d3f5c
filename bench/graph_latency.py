"""What the graph costs over the bare models, measured in one run on this machine.

1. Direct: the same work in this process, on the model classes: FinBERT-size sentiment on one
   headline, PatchTST (512-bar context) on one series, the bandit's weights.
2. Served: `serve run serve_config.yaml` (its own Ray) with the same models; /v1/signal over
   HTTP at concurrency 1, 8 and 32 with one headline, 513 bars and one outcome; and
   /v1/price/predict at concurrency 1.
Overhead = served /v1/signal p50 at concurrency 1 − the slowest branch's direct p50. The
hops come from the ingress's own per-branch timings in each response: client → ingress
(proxy, HTTP, validation) = client time − ingress total; ingress → branch → ingress = branch
time − that branch's direct time. Prints a table, writes bench/results/graph_latency.json.

    python bench/graph_latency.py           # full size (a few minutes)
    python bench/graph_latency.py --tiny    # seconds: the smoke test's settings
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

from common import HEADLINE, bench_models, bench_parser, percentiles, save_result, wait_ready

BRANCHES = ("sentiment", "price", "strategies")


def time_ms(fn, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def direct(bert: Path, price: Path, bars: dict, n: int) -> dict:
    """p50 of each branch's work called in-process, as the replicas call it."""
    from models.price_direction import PriceDirectionModel
    from models.sentiment import SentimentModel
    from models.strategy_weights import summarise
    from store.store import OutcomeRow, Store, sqlite_url

    sentiment = SentimentModel(str(bert), prefer_gpu=False)
    model = PriceDirectionModel.load(price, prefer_gpu=False)
    columns = [bars[k] for k in ("open", "high", "low", "close", "volume")]
    store = Store(sqlite_url(bert.parent / "direct-store"), migrate_schema=True)
    now = time.time()
    store.record_outcomes("direct", "d", [OutcomeRow(f"s{i % 4}", i % 3 != 0, now - i * 60, f"k{i}", "f")
                                          for i in range(200)], now)

    def bandit_weights():  # what the Ledger does for the strategies part of a signal
        summarise(store.strategy_evidence(time.time(), 7 * 24 * 3600.0)[1])

    return {
        "sentiment": percentiles(time_ms(lambda: sentiment.score([HEADLINE]), n)),
        "price": percentiles(time_ms(lambda: model.predict_windows(model.window(*columns)[None]), n)),
        "strategies": percentiles(time_ms(bandit_weights, n)),
    }


async def load(base: str, route: str, body: dict, concurrency: int, n: int) -> dict:
    """n requests, `concurrency` at a time: latencies and throughput of the admitted ones,
    ingress timings, and how many were turned away (503)."""
    import httpx

    latencies, ingress, degraded, rejected = [], {b: [] for b in (*BRANCHES, "total")}, {}, []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        queue = asyncio.Queue()
        for _ in range(n):
            queue.put_nowait(None)

        async def worker():
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                r = await client.post(route, json=body)
                if r.status_code == 503:  # turned away at once: past the ingress's queue (max_queued_requests)
                    rejected.append(r.status_code)
                    continue
                latencies.append((time.perf_counter() - start) * 1e3)  # of the admitted requests
                r.raise_for_status()
                data = r.json()
                for d in data.get("degraded", []):  # past capacity a branch times out: count it
                    degraded[d["branch"]] = degraded.get(d["branch"], 0) + 1
                for key, ms in data.get("latency_ms", {}).items():
                    if not any(d["branch"] == key for d in data.get("degraded", [])):
                        ingress.setdefault(key, []).append(ms)  # the volatility branch too

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    result = {"client": percentiles(latencies), "requests_per_s": len(latencies) / elapsed, "degraded": degraded,
              "rejected_503": len(rejected)}
    result["ingress"] = {k: percentiles(v) for k, v in ingress.items() if v}
    return result


def main() -> None:
    parser = bench_parser(__doc__, "graph_latency", port=8766)
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    args = parser.parse_args()
    n = 8 if args.tiny else args.requests

    import httpx

    from tests.support import random_walk_bars, serve_config_with, serve_run

    work, bert, price = bench_models("graph-latency-", args.tiny)
    bars = random_walk_bars(33 if args.tiny else 513)
    results = {"direct_ms": direct(bert, price, bars, n)}
    signal_body = {"symbol": "SPY", "news": [HEADLINE], "bars": bars,
                   "outcomes": [{"strategy": "momentum", "outcome": "win"}]}
    base = f"http://127.0.0.1:{args.port}"
    config = serve_config_with(bert, price, work / "var", args.port)
    config["applications"][0]["args"]["sentiment"]["cache_size"] = 0  # every request runs the model
    try:
        with serve_run(config, work) as (proc, log_path), httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, proc, log_path=log_path)
            asyncio.run(load(base, "/v1/signal", signal_body, 4, 2 * 4))  # warm every replica
            results["signal"] = {c: asyncio.run(load(base, "/v1/signal", signal_body, c, max(n, c)))
                                 for c in (1, 8, 32)}
            results["price_predict"] = asyncio.run(load(base, "/v1/price/predict",
                                                        {"symbol": "SPY", "bars": bars}, 1, n))
    except BaseException:
        print(f"kept {work} for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)

    direct_p50 = {b: results["direct_ms"][b]["p50"] for b in BRANCHES}
    one = results["signal"][1]
    results["overhead_ms"] = one["client"]["p50"] - max(direct_p50.values())
    results["hops_ms"] = {
        "client_to_ingress_and_back": one["client"]["p50"] - one["ingress"]["total"]["p50"],
        **{f"ingress_to_{b}_and_back": one["ingress"][b]["p50"] - direct_p50[b] for b in BRANCHES},
    }
    results["price_predict_vs_bare_ms"] = {"served_p50": results["price_predict"]["client"]["p50"],
                                          "bare_p50": direct_p50["price"]}

    print(f"{'direct, in-process':34s} " + "  ".join(f"{b} {direct_p50[b]:6.1f}" for b in BRANCHES))
    print(f"{'/v1/signal':12s} {'conc':>5s} {'p50':>7s} {'p90':>7s} {'p99':>7s} {'req/s':>7s}  503s  degraded")
    for c, r in results["signal"].items():
        q = r["client"]
        print(f"{'':12s} {c:5d} {q['p50']:7.1f} {q['p90']:7.1f} {q['p99']:7.1f} {r['requests_per_s']:7.1f}  "
              f"{r['rejected_503']:4d}  {r['degraded'] or '-'}")
    print(f"overhead at concurrency 1: {results['overhead_ms']:.1f} ms "
          f"(signal p50 {one['client']['p50']:.1f} − slowest direct branch {max(direct_p50.values()):.1f})")
    for hop, ms in results["hops_ms"].items():
        print(f"  {hop:34s} {ms:6.1f} ms")
    pp = results["price_predict_vs_bare_ms"]
    print(f"/v1/price/predict p50 {pp['served_p50']:.1f} ms vs bare {pp['bare_p50']:.1f} ms")
    save_result(args.out, "python bench/graph_latency.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "requests": n}, results)


if __name__ == "__main__":
    main()
