"""What the graph costs over the bare models, and over Ray Serve's own floor, in one run.

1. Direct, in this process, on the model classes: FinBERT-size sentiment on one headline,
   PatchTST (512-bar context) on one series, the bandit's weights; and the bare batched
   models: sentiment in batches of `sentiment.max_batch_size` (headlines/s), and a whole
   32-symbol watchlist (sentiment batches, one PatchTST batch, HAR per series, the bandit).
2. Served: `serve run serve_config.yaml` (its own Ray) with the same models, plus Serve's
   floor beside them (bench/floor_app.py: an HTTP no-op, and an HTTP ingress making one handle
   call to a no-op deployment). Over HTTP: /v1/signal at concurrency 1, 8 and 32 with one
   headline, 513 bars and one outcome; /v1/signals with 32 such entries (and with bars only),
   one after another; /v1/price/predict at concurrency 1. Over gRPC (the same Serve, its gRPC
   proxy; deployments/proto/signals.proto): Signal at concurrency 1 and the two watchlists.
Overhead = /v1/signal p50 at concurrency 1 − the slowest branch's direct p50, beside the
floor (the /hop p50: HTTP no-op + one handle hop). The hops come from the ingress's own
per-branch timings in each response: client → ingress (proxy, HTTP, validation) = client
time − ingress total; ingress → branch → ingress = branch time − that branch's direct time.
Prints a table, writes bench/results/graph_latency.json.

    python bench/graph_latency.py           # full size (several minutes)
    python bench/graph_latency.py --tiny    # seconds: the smoke test's settings
    python bench/graph_latency.py --env RAY_SERVE_THROUGHPUT_OPTIMIZED=1 --out ...   # a lever, same command
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from common import BENCH_DIR, HEADLINE, bench_models, bench_parser, percentiles, save_result, wait_ready

BRANCHES = ("sentiment", "price", "strategies")
WATCHLIST = 32  # symbols in one /v1/signals request
API_KEY = "bench-key"  # the graph runs with a key, as one exposed must: both transports send it


def time_ms(fn, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


class BareModels:
    """The graph's models and the Ledger's store, in this process, as the replicas call them."""

    def __init__(self, bert: Path, price: Path, har: Path, sentiment_threads: int | None = None):
        import torch

        from models.har_model import load_volatility_model
        from models.price_direction import PriceDirectionModel
        from models.sentiment import SentimentModel
        from store.store import OutcomeRow, Store, sqlite_url

        torch.set_num_threads(sentiment_threads or os.cpu_count() or 1)  # as the sentiment replica runs it
        self.sentiment = SentimentModel(str(bert), prefer_gpu=False)
        self.price = PriceDirectionModel.load(price, prefer_gpu=False)
        self.har = load_volatility_model(har, prefer_gpu=False)
        self.store = Store(sqlite_url(bert.parent / "direct-store"), migrate_schema=True)
        now = time.time()
        self.store.record_outcomes("direct", "d", [OutcomeRow(f"s{i % 4}", i % 3 != 0, now - i * 60, f"k{i}", "f")
                                                   for i in range(200)], now)

    def window(self, bars: dict) -> np.ndarray:
        return self.price.window(*(bars[k] for k in ("open", "high", "low", "close", "volume")))

    def bandit_weights(self) -> None:  # what the Ledger does for the strategies part of a signal
        from models.strategy_weights import summarise

        summarise(self.store.strategy_evidence(time.time(), 7 * 24 * 3600.0)[1])

    def watchlist(self, series: list[dict], texts: list[str], batch: int) -> None:
        """A watchlist's work, batched as the graph batches it."""
        for i in range(0, len(texts), batch):
            self.sentiment.score(texts[i:i + batch])
        self.price.predict_windows(np.stack([self.window(bars) for bars in series]))
        for bars in series:
            self.har.forecast_bars(bars)
        self.bandit_weights()


def direct(models: BareModels, bars: dict, n: int) -> dict:
    """p50 of each branch's work called in-process, as the replicas call it."""
    window = models.window(bars)[None]
    return {
        "sentiment": percentiles(time_ms(lambda: models.sentiment.score([HEADLINE]), n)),
        "price": percentiles(time_ms(lambda: models.price.predict_windows(window), n)),
        "strategies": percentiles(time_ms(models.bandit_weights, n)),
    }


def bare_batched(models: BareModels, bars: dict, batch: int, n: int) -> dict:
    """Throughput of the bare models batched as the graph batches them: sentiment alone in
    full batches, and a whole watchlist with news and with bars only."""
    series, texts = [bars] * WATCHLIST, [f"{HEADLINE} ({i})" for i in range(WATCHLIST)]
    rounds = max(1, n // WATCHLIST)

    def per_second(fn, items: int) -> float:
        return items / (np.median(time_ms(fn, rounds, warmup=1)) / 1e3)

    return {"sentiment_headlines_per_s": per_second(lambda: models.sentiment.score(texts[:batch]), batch),
            "watchlist_signals_per_s": per_second(lambda: models.watchlist(series, texts, batch), WATCHLIST),
            "watchlist_bars_only_signals_per_s": per_second(lambda: models.watchlist(series, [], batch), WATCHLIST)}


async def load(base: str, route: str, body: dict, concurrency: int, n: int) -> dict:
    """n requests, `concurrency` at a time: latencies and throughput of the admitted ones,
    ingress timings, and how many were turned away (503)."""
    import httpx

    latencies, ingress, degraded, rejected = [], {b: [] for b in (*BRANCHES, "total")}, {}, []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, headers={"X-API-Key": API_KEY}) as client:
        queue = asyncio.Queue()
        for _ in range(n):
            queue.put_nowait(None)

        async def worker():
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                r = await client.request("GET" if body is None else "POST", route, json=body)
                if r.status_code == 503:  # turned away: past the ingress's queue (max_queued_requests)
                    rejected.append(r.status_code)
                    continue
                latencies.append((time.perf_counter() - start) * 1e3)  # of the admitted requests
                r.raise_for_status()
                count_answer(r.json(), degraded, ingress)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return load_result(latencies, elapsed, degraded, ingress, rejected)


def count_answer(data: dict, degraded: dict, ingress: dict) -> None:
    """A signal's or a watchlist's degraded branches, and the ingress's timings."""
    answers = data.get("signals", [data])  # a watchlist: each entry's degraded branches
    for answer in answers:
        for d in answer.get("degraded", []):  # past capacity a branch times out: count it
            degraded[d["branch"]] = degraded.get(d["branch"], 0) + 1
    for key, ms in data.get("latency_ms", {}).items():
        if not any(d["branch"] == key for d in answers[0].get("degraded", [])):
            ingress.setdefault(key, []).append(ms)  # the volatility branch too


def load_result(latencies: list, elapsed: float, degraded: dict, ingress: dict, rejected: list) -> dict:
    result = {"client": percentiles(latencies), "requests_per_s": len(latencies) / elapsed, "degraded": degraded,
              "rejected_503": len(rejected)}
    result["ingress"] = {k: percentiles(v) for k, v in ingress.items() if v}
    return result


async def load_grpc(target: str, method: str, body: dict, concurrency: int, n: int) -> dict:
    """As load(), over the gRPC API (deployments/proto/signals.proto): the same body, built
    into its proto message for each request as httpx encodes the JSON for each, on one channel
    (HTTP/2) for all workers, as one agent would hold it."""
    import grpc

    from deployments.proto import signals_pb2 as pb
    from deployments.proto.signals_pb2_grpc import SignalServiceStub

    request_type = {"Signal": pb.SignalRequest, "Signals": pb.SignalsRequest}[method]
    latencies, ingress, degraded, rejected = [], {}, {}, []
    async with grpc.aio.insecure_channel(target) as channel:
        rpc = getattr(SignalServiceStub(channel), method)
        remaining = n

        async def worker():
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                try:
                    answer = await rpc(request_type(**body), metadata=[("application", "investiq"),
                                                                       ("x-api-key", API_KEY)], timeout=60)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or "backpressure" not in exc.details():
                        raise  # only a full queue turns a request away (HTTP's 503)
                    rejected.append(exc.code())
                    continue
                latencies.append((time.perf_counter() - start) * 1e3)
                signals = answer.signals if method == "Signals" else [answer]
                count_answer({"signals": [{"degraded": [{"branch": d.branch} for d in s.degraded]} for s in signals],
                              "latency_ms": dict(answer.latency_ms)}, degraded, ingress)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return load_result(latencies, elapsed, degraded, ingress, rejected)


def payload_sizes(body: dict) -> dict:
    """A request's size as compact JSON (as httpx sends it) and as its proto message."""
    import json

    from deployments.proto import signals_pb2 as pb

    return {"json": len(json.dumps(body, separators=(",", ":")).encode()),
            "proto": pb.SignalsRequest(**body).ByteSize()}


def sentiment_handle(ray_tmpdir: str):
    """The Sentiment deployment of the graph `serve run` started, from this process (joined
    to that Ray as a driver), to read the batch sizes its replica formed."""
    import ray
    from ray import serve

    os.environ["RAY_TMPDIR"] = ray_tmpdir
    ray.init(address="auto", log_to_driver=False)
    return serve.get_deployment_handle("Sentiment", app_name="investiq")


def main() -> None:
    parser = bench_parser(__doc__, "graph_latency", port=8766)
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of `serve run` (a Ray Serve lever); repeatable")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a setting of serve_config.yaml's args, e.g. "
                             "ingress.placement.max_queued_requests=16 (a YAML value); repeatable")
    args = parser.parse_args()
    n = 8 if args.tiny else args.requests

    import httpx

    from deployments.config import IngressConfig
    from deployments.grpc_api import SERVICER
    from tests.support import (
        free_port, make_tiny_har_model, random_walk_bars, serve_config_with, serve_run, serve_run_env,
    )

    work, bert, price = bench_models("graph-latency-", args.tiny)
    har = make_tiny_har_model(work / "har")
    bars = random_walk_bars(33 if args.tiny else 513)
    config = serve_config_with(bert, price, work / "var", args.port, har)
    graph = config["applications"][0]
    graph["args"]["sentiment"]["cache_size"] = 0  # every request runs the model
    for setting in args.set:
        path, value = setting.split("=", 1)
        *parents, leaf = path.split(".")
        section = graph["args"]
        for key in parents:
            section = section.setdefault(key, {})
        section[leaf] = yaml.safe_load(value)
    config["applications"].append({"name": "floor", "route_prefix": "/floor", "import_path": "floor_app:app"})
    # The gRPC API beside HTTP (Ray binds its proxy on every interface: the graph has a key).
    grpc_port = free_port()
    config["grpc_options"] = {"port": grpc_port, "grpc_servicer_functions": [SERVICER]}
    models = BareModels(bert, price, har, graph["args"]["sentiment"].get("cpu_threads"))
    results = {"direct_ms": direct(models, bars, n),
               "bare_batched": bare_batched(models, bars, graph["args"]["sentiment"]["max_batch_size"], n)}
    del models
    entry = {"symbol": "SPY", "news": [HEADLINE], "bars": bars, "outcomes": [{"strategy": "momentum", "outcome": "win"}]}
    watchlist = {"signals": [{**entry, "symbol": f"S{i}", "news": [f"{HEADLINE} ({i})"]} for i in range(WATCHLIST)]}
    bars_only = {"signals": [{"symbol": f"S{i}", "bars": bars} for i in range(WATCHLIST)]}
    results["bars_only_watchlist_bytes"] = payload_sizes(bars_only)
    env = serve_run_env(work)
    env["PYTHONPATH"] = f"{BENCH_DIR}:{env.get('PYTHONPATH', '')}"  # the floor app
    env.update(dict(setting.split("=", 1) for setting in args.env))
    env[IngressConfig().api_key_env] = API_KEY
    base = f"http://127.0.0.1:{args.port}"
    rounds = max(2, n // 8)  # watchlists, one after another
    try:
        with serve_run(config, work, env) as (proc, log_path), httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, proc, log_path=log_path)
            asyncio.run(load(base, "/v1/signal", entry, 4, 2 * 4))  # warm every replica
            results["floor"] = {route: asyncio.run(load(base, f"/floor/{route}", None, 1, n))["client"]
                                for route in ("noop", "hop")}
            sentiment = sentiment_handle(env["RAY_TMPDIR"])
            results["signal"] = {}
            for c in (1, 8, 32):
                before = sentiment.get_stats.remote().result()["batch_sizes"]
                results["signal"][c] = asyncio.run(load(base, "/v1/signal", entry, c, max(n, c)))
                after = sentiment.get_stats.remote().result()["batch_sizes"]
                results["signal"][c]["sentiment_batch_sizes"] = {
                    size: count - before.get(size, 0) for size, count in sorted(after.items())
                    if count > before.get(size, 0)}
            results["signal_bars_only"] = asyncio.run(load(base, "/v1/signal", bars_only["signals"][0], 1, n))
            results["watchlist"] = asyncio.run(load(base, "/v1/signals", watchlist, 1, rounds))
            results["watchlist_bars_only"] = asyncio.run(load(base, "/v1/signals", bars_only, 1, rounds))
            results["price_predict"] = asyncio.run(load(base, "/v1/price/predict", {"symbol": "SPY", "bars": bars}, 1, n))
            target = f"127.0.0.1:{grpc_port}"
            results["grpc"] = {"signal": asyncio.run(load_grpc(target, "Signal", entry, 1, n)),
                               "watchlist": asyncio.run(load_grpc(target, "Signals", watchlist, 1, rounds)),
                               "watchlist_bars_only": asyncio.run(load_grpc(target, "Signals", bars_only, 1, rounds))}
    except BaseException:
        print(f"kept {work} for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    summarise(results, args, n)


def summarise(results: dict, args, n: int) -> None:
    """The ratios the targets are stated in, a table, and the JSON."""
    direct_p50 = {b: results["direct_ms"][b]["p50"] for b in BRANCHES}
    one, bare = results["signal"][1], results["bare_batched"]
    floor = results["floor"]["hop"]["p50"]
    results["overhead_ms"] = one["client"]["p50"] - max(direct_p50.values())
    results["hops_ms"] = {
        "client_to_ingress_and_back": one["client"]["p50"] - one["ingress"]["total"]["p50"],
        **{f"ingress_to_{b}_and_back": one["ingress"][b]["p50"] - direct_p50[b] for b in BRANCHES},
    }
    grpc = results["grpc"]
    for watchlist in (results["watchlist"], results["watchlist_bars_only"], grpc["watchlist"],
                      grpc["watchlist_bars_only"]):
        watchlist["signals_per_s"] = WATCHLIST * watchlist["requests_per_s"]
    results["ratios"] = {
        "overhead_over_floor": results["overhead_ms"] / floor,
        "watchlist_over_sequential": results["watchlist"]["signals_per_s"] / one["requests_per_s"],
        "watchlist_over_bare": results["watchlist"]["signals_per_s"] / bare["watchlist_signals_per_s"],
        "watchlist_bars_only_over_sequential": (results["watchlist_bars_only"]["signals_per_s"]
                                                / results["signal_bars_only"]["requests_per_s"]),
        "watchlist_bars_only_over_bare": (results["watchlist_bars_only"]["signals_per_s"]
                                          / bare["watchlist_bars_only_signals_per_s"]),
        "concurrency_32_over_bare_sentiment": results["signal"][32]["requests_per_s"] / bare["sentiment_headlines_per_s"],
        "grpc_over_http_signal_p50": grpc["signal"]["client"]["p50"] / one["client"]["p50"],
        "grpc_over_http_watchlist": grpc["watchlist"]["signals_per_s"] / results["watchlist"]["signals_per_s"],
        "grpc_over_http_watchlist_bars_only": (grpc["watchlist_bars_only"]["signals_per_s"]
                                               / results["watchlist_bars_only"]["signals_per_s"]),
        "grpc_watchlist_bars_only_over_bare": (grpc["watchlist_bars_only"]["signals_per_s"]
                                               / bare["watchlist_bars_only_signals_per_s"]),
    }
    results["price_predict_vs_bare_ms"] = {"served_p50": results["price_predict"]["client"]["p50"],
                                          "bare_p50": direct_p50["price"]}

    print(f"{'direct, in-process p50 ms':34s} " + "  ".join(f"{b} {direct_p50[b]:6.1f}" for b in BRANCHES))
    print(f"bare batched: sentiment {bare['sentiment_headlines_per_s']:.1f} headlines/s; 32-symbol watchlist "
          f"{bare['watchlist_signals_per_s']:.1f} signals/s, bars only {bare['watchlist_bars_only_signals_per_s']:.1f}")
    print(f"Serve's floor: HTTP no-op p50 {results['floor']['noop']['p50']:.1f} ms, "
          f"+ one handle hop {floor:.1f} ms")
    for c, r in results["signal"].items():
        print(f"sentiment batch sizes (size: batches) at concurrency {c}: {r['sentiment_batch_sizes']}")
    print(f"{'route':28s} {'conc':>5s} {'p50':>7s} {'p90':>7s} {'p99':>7s} {'req/s':>7s}  503s  degraded")
    rows = [("/v1/signal", c, r) for c, r in results["signal"].items()]
    rows += [("/v1/signal, bars only", 1, results["signal_bars_only"]), ("/v1/signals, 32", 1, results["watchlist"]),
             ("/v1/signals, 32 bars only", 1, results["watchlist_bars_only"]),
             ("/v1/price/predict", 1, results["price_predict"]), ("gRPC Signal", 1, grpc["signal"]),
             ("gRPC Signals, 32", 1, grpc["watchlist"]), ("gRPC Signals, 32 bars only", 1, grpc["watchlist_bars_only"])]
    for name, c, r in rows:
        q = r["client"]
        print(f"{name:28s} {c:5d} {q['p50']:7.1f} {q['p90']:7.1f} {q['p99']:7.1f} {r['requests_per_s']:7.1f}  "
              f"{r['rejected_503']:4d}  {r['degraded'] or '-'}")
    print(f"overhead at concurrency 1: {results['overhead_ms']:.1f} ms (signal p50 {one['client']['p50']:.1f} − "
          f"slowest direct branch {max(direct_p50.values()):.1f}), {results['ratios']['overhead_over_floor']:.2f}× "
          f"the floor")
    for hop, ms in results["hops_ms"].items():
        print(f"  {hop:34s} {ms:6.1f} ms")
    sizes = results["bars_only_watchlist_bytes"]
    print(f"a 32-entry bars-only watchlist: {sizes['json'] / 1e6:.2f} MB of JSON, {sizes['proto'] / 1e6:.2f} MB of proto")
    for name, ratio in results["ratios"].items():
        print(f"{name:40s} {ratio:6.2f}")
    command = " ".join(["python bench/graph_latency.py", *(["--tiny"] if args.tiny else []),
                        *(f"--env {e}" for e in args.env), *(f"--set {s}" for s in args.set)])
    save_result(args.out, command, {"tiny": args.tiny, "requests": n, "env": args.env, "set": args.set}, results)


if __name__ == "__main__":
    main()
