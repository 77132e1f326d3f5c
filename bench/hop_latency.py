"""Where a request's time goes, hop by hop, at concurrency 1 (the profile behind the
overhead in graph_latency.py).

In one Ray instance with the graph deployed (FinBERT-size sentiment, 512-bar PatchTST):
  model, in this process        the bare model calls
  handle → replica → back       `status` (no work: the bare hop), `predict`, `score`
  model, inside the replica     BERT's mean time per batch, from the replica's own stats
  HTTP → proxy → ingress → back `/healthz` (no work), `/v1/price/predict`, `/v1/sentiment`
Prints a table, writes bench/results/hop_latency.json.

    python bench/hop_latency.py           # full size
    python bench/hop_latency.py --tiny    # seconds: the smoke test's settings
"""

from __future__ import annotations

from common import HEADLINE, bench_models, bench_parser, graph_in_process, percentiles, save_result
from graph_latency import BareModels, direct, time_ms


def main() -> None:
    parser = bench_parser(__doc__, "hop_latency", port=8769)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    n = 5 if args.tiny else args.requests

    import httpx
    from ray import serve

    from deployments.schemas import Bars
    from tests.support import make_tiny_har_model, random_walk_bars

    work, bert, price = bench_models("hops-", args.tiny)
    bars = random_walk_bars(33 if args.tiny else 513)
    columns = Bars.model_validate(bars).columns()  # the message the ingress sends
    har = make_tiny_har_model(work / "har")
    results = {"model_ms": direct(BareModels(bert, price, har), bars, n)}
    graph_args = {"data_dir": str(work / "var"), "sentiment": {"model": str(bert), "cache_size": 0},
                  "price": {"model_dir": str(price)}, "volatility": {"model_dir": str(har)}}
    with graph_in_process(work, args.port, graph_args) as base:
        price_h = serve.get_deployment_handle("Price", app_name="investiq")
        sentiment_h = serve.get_deployment_handle("Sentiment", app_name="investiq")
        with httpx.Client(base_url=base, timeout=60) as client:
            results["handle_ms"] = {
                "status (bare hop)": percentiles(time_ms(lambda: price_h.status.remote().result(), n)),
                "price.predict": percentiles(time_ms(lambda: price_h.predict.remote(columns).result(), n)),
                "sentiment.score": percentiles(time_ms(lambda: sentiment_h.score.remote([HEADLINE]).result(), n)),
            }
            # BERT's own time inside the replica, for the calls just made (all batches of one).
            stats = sentiment_h.get_stats.remote().result()
            results["in_replica_model_ms"] = {
                "sentiment": 1e3 * stats["model_seconds"] / sum(stats["batch_sizes"].values())}
            results["http_ms"] = {
                "/healthz (bare path)": percentiles(time_ms(lambda: client.get("/healthz"), n)),
                "/v1/price/predict": percentiles(time_ms(
                    lambda: client.post("/v1/price/predict", json={"symbol": "SPY", "bars": bars}), n)),
                "/v1/sentiment": percentiles(time_ms(
                    lambda: client.post("/v1/sentiment", json={"texts": [HEADLINE]}), n)),
            }

    print(f"{'p50, concurrency 1':44s} {'ms':>7s}")
    for group, label in (("model_ms", "model, in process"), ("handle_ms", "handle → replica"),
                         ("http_ms", "HTTP → proxy → ingress")):
        for name, q in results[group].items():
            print(f"{label + ': ' + name:44s} {q['p50']:7.1f}")
    print(f"{'model, inside the replica (mean): sentiment':44s} {results['in_replica_model_ms']['sentiment']:7.1f}")
    save_result(args.out, "python bench/hop_latency.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "requests": n}, results)


if __name__ == "__main__":
    main()
