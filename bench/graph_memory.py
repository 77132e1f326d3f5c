"""Memory of the whole graph on CPU, with models the size of the real ones.

Runs `serve run` on the repo's serve_config.yaml as a user does (its own Ray; no GPUs here),
with a BERT-base sentiment checkpoint (random weights from the default BertConfig: FinBERT's
size and compute, since FinBERT cannot be downloaded here) and a PatchTST with a 512-bar
context, sends signals, then sums RSS and PSS over `serve run` and every process under it
(PSS splits shared pages between processes; RSS counts them in each). Prints a table and
writes bench/results/graph_memory.json.

    python bench/graph_memory.py            # full size
    python bench/graph_memory.py --tiny     # seconds: the smoke test's settings
"""

from __future__ import annotations

import shutil
import sys

from common import bench_models, bench_parser, memory_of, process_tree, save_result, wait_ready


def main() -> None:
    parser = bench_parser(__doc__, "graph_memory", port=8765)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    import httpx

    from tests.support import random_walk_bars, serve_config_with, serve_run

    work, bert, price = bench_models("graph-memory-", args.tiny)
    config = serve_config_with(bert, price, work / "var", args.port)
    try:
        with serve_run(config, work) as (proc, log_path), \
                httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as client:
            wait_ready(client, proc, log_path=log_path)
            bars = random_walk_bars(33 if args.tiny else 513)
            for i in range(args.requests):
                r = client.post("/v1/signal", json={"symbol": "SPY", "news": [f"shares rose on record profit {i}"],
                                                    "outcomes": [{"strategy": "momentum", "outcome": "win"}],
                                                    "bars": bars})
                r.raise_for_status()
                assert not r.json()["degraded"], r.json()["degraded"]
            rows = [m for pid in [proc.pid, *process_tree(proc.pid)] if (m := memory_of(pid))]
    except BaseException:
        print(f"kept {work} (serve.log) for a look", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)

    rows.sort(key=lambda r: -r[2])
    total_rss, total_pss = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'process':60s} {'RSS MiB':>9s} {'PSS MiB':>9s}")
    for name, rss, pss in rows:
        if pss >= 20:
            print(f"{name:60s} {rss:9.0f} {pss:9.0f}")
    print(f"{'all ' + str(len(rows)) + ' processes under serve run':60s} {total_rss:9.0f} {total_pss:9.0f}")
    save_result(args.out, "python bench/graph_memory.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "requests": args.requests},
                {"total_rss_mib": round(total_rss), "total_pss_mib": round(total_pss),
                 "processes": [{"name": n, "rss_mib": round(r), "pss_mib": round(p)} for n, r, p in rows]})


if __name__ == "__main__":
    main()
