"""Replicas killed under load: a steady stream of signals and outcomes while the Ledger
replica, then a sentiment replica, then the price replica are killed with `ray.kill`.

Every outcome carries an idempotency key. Reported: requests, failures (non-2xx or no
answer), signals answered with a degraded branch, whether every acknowledged outcome is in
the store and the bandit state, and per kill the seconds until a request through that
branch succeeded again. In one Ray instance (it needs the actor handles to kill), with the
settings of serve_config.yaml, two sentiment replicas and the sentiment cache off.
Prints a table, writes bench/results/chaos.json.

    python bench/chaos.py            # 120 s, FinBERT-size sentiment
    python bench/chaos.py --tiny     # seconds: the smoke test's settings
"""

from __future__ import annotations

import threading
import time

from common import HEADLINE, bench_models, bench_parser, graph_in_process, save_result, wait_ready

BRANCH_OF = {"Ledger": "strategies", "Sentiment": "sentiment", "Price": "price", "Volatility": "volatility"}


def kill_replica(app: str, deployment: str) -> None:
    import ray

    actor = next(a for a in ray.util.list_named_actors(all_namespaces=True)
                 if f"{app}#{deployment}" in a["name"] and "SERVE_REPLICA" in a["name"])
    ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)


def run_load(base: str, duration_s: float, workers: int, kills: list[tuple[float, str, str]], kill,
             bars: dict | None = None) -> dict:
    """`workers` threads alternate /v1/signal (one headline, bars, one outcome) and
    /v1/strategies/outcomes for `duration_s`; kills = [(at_s, app, deployment)] on schedule."""
    import httpx

    if bars is None:
        from tests.support import TINY_CONTEXT, random_walk_bars
        bars = random_walk_bars(TINY_CONTEXT + 1)
    begin = time.monotonic()
    log: list[dict] = []  # one entry per request: kind, start, end, ok, degraded branches
    acknowledged: list[str] = []
    killed: list[tuple[float, str]] = []

    def worker(w: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            i = 0
            while time.monotonic() - begin < duration_s:
                key, i = f"w{w}-{i}", i + 1
                outcome = {"strategy": ("momentum", "breakout")[w % 2], "outcome": "win" if i % 3 else "loss", "id": key}
                kind = "signal" if i % 2 else "outcomes"
                start = time.monotonic() - begin
                entry = {"kind": kind, "start": start, "ok": False, "degraded": []}
                try:
                    if kind == "signal":
                        r = client.post("/v1/signal", json={"symbol": "SPY", "news": [HEADLINE], "bars": bars,
                                                           "outcomes": [outcome]})
                    else:
                        r = client.post("/v1/strategies/outcomes", json={"outcomes": [outcome]})
                    entry["ok"] = r.status_code == 200
                    if entry["ok"]:
                        body = r.json()
                        entry["degraded"] = [d["branch"] for d in body.get("degraded", [])]
                        if body.get("outcomes_recorded", 0) or body.get("recorded", 0) or body.get("duplicates", 0):
                            acknowledged.append(key)
                except httpx.HTTPError:
                    pass
                entry["end"] = time.monotonic() - begin
                log.append(entry)

    def killer() -> None:
        for at, app, deployment in kills:
            time.sleep(max(0.0, at - (time.monotonic() - begin)))
            kill(app, deployment)
            killed.append((time.monotonic() - begin, deployment))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)] + [threading.Thread(target=killer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def recovery(at: float, deployment: str) -> float | None:
        """Seconds from the kill until a request through that branch next succeeded."""
        branch = BRANCH_OF[deployment]
        ends = [e["end"] for e in log if e["start"] >= at and e["ok"] and branch not in e["degraded"]
                and (e["kind"] == "signal" or branch == "strategies")]
        return round(min(ends) - at, 2) if ends else None

    return {
        "requests": len(log),
        "failed": sum(not e["ok"] for e in log),
        "degraded": {b: sum(b in e["degraded"] for e in log) for b in BRANCH_OF.values()},
        "acknowledged_ids": acknowledged,
        "kills": [{"at_s": round(at, 2), "deployment": d} for at, d in killed],
        "recovery_s": {d: recovery(at, d) for at, d in killed},
        "duration_s": round(time.monotonic() - begin, 1),
    }


def main() -> None:
    parser = bench_parser(__doc__, "chaos", port=8771)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    duration = 20.0 if args.tiny else args.duration

    import httpx

    from store.store import Store
    from store.store import sqlite_url
    from tests.support import random_walk_bars, serve_config_with

    work, bert, price = bench_models("chaos-", args.tiny)
    bars = random_walk_bars(33 if args.tiny else 513)
    graph_args = serve_config_with(bert, price, work / "var", args.port)["applications"][0]["args"]
    graph_args["sentiment"]["placement"]["num_replicas"] = 2
    graph_args["sentiment"]["cache_size"] = 0  # every signal runs BERT, as with fresh news
    with graph_in_process(work, args.port, graph_args) as base:
        third = duration / 4
        report = run_load(base, duration, args.workers,
                          [(third, "investiq", "Ledger"), (2 * third, "investiq", "Sentiment"),
                           (3 * third, "investiq", "Price")], kill_replica, bars)
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, timeout_s=120)
            weights = client.get("/v1/strategies/weights").json()
        store = Store(sqlite_url(work / "var"))
        stored = {r["idempotency_key"] for r in store.rows("strategy_outcomes")}
        acked = set(report.pop("acknowledged_ids"))
        report.update(acknowledged=len(acked), acknowledged_lost=len(acked - stored), stored=len(stored),
                      bandit_outcomes=sum(s["outcomes"] for s in weights["strategies"]))

    print(f"{report['requests']} requests in {report['duration_s']} s, {report['failed']} failed "
          f"({100 * report['failed'] / max(report['requests'], 1):.2f} %); signals with a degraded branch: "
          f"{report['degraded']}")
    print(f"acknowledged outcomes {report['acknowledged']}, lost {report['acknowledged_lost']}; "
          f"stored {report['stored']}, in the bandit {report['bandit_outcomes']}")
    for kill in report["kills"]:
        print(f"killed {kill['deployment']:10s} at {kill['at_s']:6.1f} s: back after "
              f"{report['recovery_s'][kill['deployment']]} s")
    save_result(args.out, "python bench/chaos.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "duration_s": duration, "workers": args.workers}, report)


if __name__ == "__main__":
    main()
