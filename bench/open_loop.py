"""/v1/signal offered at a fixed rate, a multiple of the graph's measured capacity, under
`serve run serve_config.yaml` (FinBERT-size sentiment, 512-bar PatchTST, the bandit).

Capacity is measured first in the same run (closed loop, 8 at a time). Then requests arrive
at `--factor` × capacity for `--duration` seconds whatever the answers, as independent
agents would send them, while the RSS of `serve run` and everything under it is sampled.
Reported: answers by status, latency of the admitted (200) and of the rest, and RSS.

    python bench/open_loop.py --factor 5 --duration 60 --name backpressure   # overload
    python bench/open_loop.py --factor 0.5 --duration 600 --name soak        # 10-minute soak
    python bench/open_loop.py --tiny                                         # the smoke test
"""

from __future__ import annotations

import asyncio
import shutil
import sys

import numpy as np
from common import HEADLINE, RESULTS, bench_models, bench_parser, graph_rss_mib, open_loop, save_result, wait_ready
from graph_latency import load


def main() -> None:
    parser = bench_parser(__doc__, "open_loop", port=8772)
    parser.add_argument("--factor", type=float, default=5.0, help="offered rate / measured capacity")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--name", default=None, help="results go to bench/results/<name>.json")
    args = parser.parse_args()
    out = RESULTS / f"{args.name}.json" if args.name else args.out
    duration = 6.0 if args.tiny else args.duration

    import httpx

    from tests.support import random_walk_bars, serve_config_with, serve_run

    work, bert, price = bench_models("open-loop-", args.tiny)
    base = f"http://127.0.0.1:{args.port}"
    body = {"symbol": "SPY", "news": [HEADLINE], "bars": random_walk_bars(33 if args.tiny else 513)}
    config = serve_config_with(bert, price, work / "var", args.port)
    config["applications"][0]["args"]["sentiment"]["cache_size"] = 0  # every request runs the model
    try:
        with serve_run(config, work) as (proc, log_path), httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, proc, log_path=log_path)
            asyncio.run(load(base, "/v1/signal", body, 4, 8))  # warm up
            capacity = asyncio.run(load(base, "/v1/signal", body, 8, 16 if args.tiny else 64))["requests_per_s"]
            result = asyncio.run(open_loop(base, "/v1/signal", body, args.factor * capacity, duration,
                                           sample=lambda: graph_rss_mib(proc.pid)))
    except BaseException:
        print(f"kept {work} (serve.log) for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)

    rss = [mib for _, mib in result["samples"]]
    minute = max(1, len(rss) // max(1, int(duration / 60)))  # samples per minute (5 s apart)
    result.update(capacity_rps=capacity, factor=args.factor, rss_mib_first=rss[0], rss_mib_max=max(rss),
                  rss_growth_pct=100 * (np.mean(rss[-minute:]) / np.mean(rss[:minute]) - 1))
    errors = result["sent"] - result["statuses"].get("200", 0)
    print(f"capacity {capacity:.1f} req/s; offered {result['offered_rate']:.1f} req/s ({args.factor:g}x) "
          f"for {duration:g} s: {result['sent']} sent, by status {result['statuses']} ({errors} not 200; "
          f"{result['admitted_degraded']} of the 200s with a branch degraded)")
    for label in ("admitted_ms", "rejected_ms"):
        if result[label]:
            q = result[label]
            print(f"  {label:12s} p50 {q['p50']:8.1f}  p99 {q['p99']:8.1f}  (n={q['n']})")
    print(f"  RSS of serve run and its processes: first {rss[0]:.0f} MiB, max {max(rss):.0f} MiB, "
          f"last minute vs first {result['rss_growth_pct']:+.1f} %")
    save_result(out, f"python bench/open_loop.py --factor {args.factor:g} --duration {duration:g}"
                + (f" --name {args.name}" if args.name else "") + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "factor": args.factor, "duration_s": duration}, result)


if __name__ == "__main__":
    main()
