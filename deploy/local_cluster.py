"""The multi-node shape on one machine: a Ray head and two worker nodes, each worker with one
simulated GPU named by a custom resource for its card model, the graph deployed with
`serve deploy serve_config.yaml` against the head, PostgreSQL as the store and a shared
folder as the model registry. Then it checks, and measures:

1. the GPU replicas land on the card the graph's GPU plan (graph.fit_gpu_plan) gives them;
2. a Tune sweep submitted as a Ray Job (`ray job submit ... investiq tune`) trains on the
   card the graph leaves free;
3. `investiq promote --serve-address` reaches the Price replica on its worker node;
4. killing the worker node that hosts the Ledger under load loses no acknowledged outcome,
   and the graph answers again.

The head has no CPUs for replicas, as on KubeRay (deploy/kuberay/rayservice.yaml): only
Serve's controller and proxy run there. Models are tiny ones built here. Everything it
starts (three Ray nodes, PostgreSQL) is stopped at the end; it prints a table and writes
bench/results/local_cluster.json.

    python deploy/local_cluster.py        # about 5 minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from chaos import BRANCH_OF, run_load  # noqa: E402
from common import save_result  # noqa: E402
from tests.services import postgres_server  # noqa: E402
from tests.support import (  # noqa: E402
    free_port, make_tiny_bert, make_tiny_price_model, random_walk_frame, ray_tmpdir, serve_config_with, wait_until,
)

APP = "investiq"
DEPLOYMENT_OF = {"sentiment": "Sentiment", "price": "Price", "volatility": "Volatility"}
CARDS = ("RTX_5090", "RTX_4090")  # the card model of each worker node, as a custom resource
WORKER_CPUS = 2  # logical CPUs per worker: fractions of the machine's two cores
LOAD_S, KILL_AT_S = 60.0, 10.0
SWEEP = ["--num-samples", "2", "--max-concurrent", "1", "--gpus-per-trial", "0.5", "--cpus-per-trial", "0.5",
         "--max-epochs", "1", "--context-length", "32", "--horizon", "4", "--ffn-dim", "16", "--sample-step", "2",
         "--tracking-uri", "none"]


def _ray_cli(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


class Cluster:
    """`ray start --block` for the head and each worker, in process groups of their own, so
    that one node can be killed whole (SIGKILL) and each stopped cleanly (SIGTERM)."""

    def __init__(self, work: Path, store_url: str):
        self.work = work
        self.env = {**os.environ, "RAY_TMPDIR": ray_tmpdir(f"cl-{work.name[-6:]}"), "RAY_AUTH_MODE": "disabled",
                    "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "INVESTIQ_STORE_URL": store_url, "PYTHONUNBUFFERED": "1",
                    # Serve spreads replicas over nodes by default: two half-card replicas would
                    # take half of each card, where the GPU plan fills one card and leaves one whole.
                    "RAY_SERVE_USE_PACK_SCHEDULING_STRATEGY": "1"}
        self.env.pop("RAY_ADDRESS", None)
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        self.nodes: dict[str, subprocess.Popen] = {}  # by name: head, or the worker's card model

    def _start_node(self, name: str, args: list[str]) -> None:
        # Every port named: two nodes on one machine would otherwise race for the same defaults.
        ports = [f"--{flag}={free_port()}" for flag in ("node-manager-port", "object-manager-port",
                                                         "metrics-export-port", "dashboard-agent-listen-port",
                                                         "dashboard-agent-grpc-port", "runtime-env-agent-port")]
        log = (self.work / f"ray-{name}.log").open("w")
        self.nodes[name] = subprocess.Popen([_ray_cli("ray"), "start", "--block", "--disable-usage-stats", *ports, *args],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> "Cluster":
        self._start_node("head", ["--head", f"--port={self.gcs_port}", "--num-cpus=0", "--num-gpus=0",
                                  "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}",
                                  f"--ray-client-server-port={free_port()}"])
        wait_until(lambda: httpx.get(f"{self.dashboard}/api/version", timeout=5).status_code == 200, 180,
                   "the head's dashboard")
        for joined, card in enumerate(CARDS, start=2):  # one at a time
            self._start_node(card, [f"--address=127.0.0.1:{self.gcs_port}", f"--num-cpus={WORKER_CPUS}",
                                    "--num-gpus=1", f"--resources={json.dumps({card: 1})}"])
            wait_until(lambda: len(self.alive_nodes()) == joined, 180, f"worker node {card} alive")
        return self

    def alive_nodes(self) -> dict[str, str]:
        """Node id -> name (head, or the card model) of the nodes alive now."""
        from ray.util.state import list_nodes

        named = {}
        for node in list_nodes(address=self.dashboard, filters=[("state", "=", "ALIVE")], detail=True,
                               raise_on_missing_output=False):
            cards = [c for c in CARDS if node.resources_total.get(c)]
            named[node.node_id] = cards[0] if cards else "head"
        return named

    def replica_nodes(self) -> dict[str, str]:
        """Deployment -> name of the node its (first alive) replica runs on."""
        from ray.util.state import list_actors

        names = self.alive_nodes()
        return {a.class_name.rsplit(":", 1)[1]: names.get(a.node_id, "?")
                for a in list_actors(address=self.dashboard, filters=[("state", "=", "ALIVE")], limit=1000,
                                       raise_on_missing_output=False)
                if a.class_name.startswith(f"ServeReplica:{APP}:")}

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of the node at once, as if its machine died: its session
        holds them all (Ray puts worker processes in process groups of their own)."""
        session = self.nodes[name].pid
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == session:
                    os.kill(int(stat.parent.name), signal.SIGKILL)
            except (OSError, ValueError):
                continue  # gone already
        self.nodes[name].wait()

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + ["head"]:  # workers first
            proc = self.nodes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def cluster(work: Path, store_url: str):
    c = Cluster(work, store_url)
    try:
        yield c.start()
    finally:
        c.stop()


def run(cmd: list[str], env: dict, timeout_s: float) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({done.returncode}): {(done.stderr or done.stdout)[-3000:]}")
    return done.stdout + done.stderr


def gpu_plan(c: Cluster, config: dict) -> dict[str, int]:
    """graph.fit_gpu_plan's card for each GPU replica of `config`, on this cluster's cards."""
    from ray.util.state import list_nodes

    from deployments.config import GraphConfig
    from graph import GPU_BRANCHES, fit_gpu_plan

    args = GraphConfig.model_validate(config["applications"][0]["args"])
    cards = [int(n.resources_total.get("GPU", 0)) for n in list_nodes(address=c.dashboard, detail=True,
                                                                        filters=[("state", "=", "ALIVE")])]
    return fit_gpu_plan([(b, getattr(args, b).placement.num_gpus) for b in GPU_BRANCHES], cards)


def cards_in_use(plan: dict[str, int], placed: dict[str, str]) -> set[str]:
    """The nodes (cards) the GPU replicas use, once checked that the replicas the plan puts on
    one card share a node and those on different cards do not."""
    nodes = {card: {placed[DEPLOYMENT_OF[branch]] for branch, c in plan.items() if c == card}
             for card in set(plan.values())}
    used = set().union(*nodes.values())
    assert all(len(n) == 1 for n in nodes.values()) and len(used) == len(nodes), (plan, placed)
    return used


def sweep_nodes(c: Cluster, storage: Path) -> list[str]:
    """Names of the nodes the sweep's trials trained on (from each trial's reported pid)."""
    from ray.util.state import list_actors

    pids = {json.loads(line)["pid"] for path in storage.glob("*/*/result.json") for line in path.read_text().splitlines()}
    names = c.alive_nodes()
    return sorted({names.get(a.node_id, "?") for a in list_actors(address=c.dashboard, detail=True, limit=10000,
                                                                          raise_on_missing_output=False)
                   if a.pid in pids})


def scenario(work: Path, report: dict) -> dict:
    """Run the four checks on a fresh cluster, filling `report` with the measured figures as
    it goes (raises where a check fails)."""
    from models.registry import ModelRegistry
    from store.store import Store

    shared = work / "shared"  # every node mounts it at the same path: here, one machine's folder
    registry = ModelRegistry(shared / "registry")
    for version in ("v1", "v2"):
        registry.publish(make_tiny_price_model(work / f"price-{version}", version=version), version)
    registry.promote("v1")
    bert = make_tiny_bert(work / "bert")
    random_walk_frame(600, seed=4).to_csv(shared / "bars.csv")
    with ExitStack() as stack:
        pg = stack.enter_context(postgres_server())
        store_url = pg.new_database()
        c = stack.enter_context(cluster(work, store_url))
        port = free_port()
        config = serve_config_with(bert, registry.root, work / "var", port)
        (work / "serve_config.yaml").write_text(yaml.safe_dump(config))
        began = time.monotonic()
        run([_ray_cli("serve"), "deploy", str(work / "serve_config.yaml"), "--address", c.dashboard], c.env, 120)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready", 300, "graph ready")
        report["deploy_to_ready_s"] = round(time.monotonic() - began, 1)

        # 1. Replicas where the GPU plan says.
        report["gpu_plan"], report["placement"] = gpu_plan(c, config), c.replica_nodes()
        (free_card,) = set(CARDS) - cards_in_use(report["gpu_plan"], report["placement"])

        # 2. A Tune sweep as a Ray Job, on the card the graph leaves free.
        began = time.monotonic()
        run([_ray_cli("ray"), "job", "submit", "--address", c.dashboard, "--", sys.executable, "-m",
             "training.cli", "tune", "--bars", str(shared / "bars.csv"), "--storage-path", str(shared / "tune"),
             *SWEEP], c.env, 600)
        report["sweep_s"] = round(time.monotonic() - began, 1)
        report["sweep_nodes"] = sweep_nodes(c, shared / "tune")
        assert report["sweep_nodes"] == [free_card], (report["sweep_nodes"], free_card)

        # 3. Promotion reaches the Price replica on its worker node.
        began = time.monotonic()
        run([sys.executable, "-m", "training.cli", "promote", "--registry", str(registry.root), "--version", "v2",
             "--serve-address", c.dashboard], c.env, 300)
        report["promotion_s"] = round(time.monotonic() - began, 1)
        price = httpx.get(f"{base}/readyz", timeout=10).json()["branches"]["price"]
        report["promoted"] = {"version": price["version"], "node": c.replica_nodes()["Price"]}
        assert price["version"] == "v2" and report["promoted"]["node"] in CARDS, report["promoted"]

        # 4. The Ledger's worker node killed under load.
        victim = c.replica_nodes()["Ledger"]
        on_victim = sorted(d for d, node in c.replica_nodes().items() if node == victim)
        load = run_load(base, LOAD_S, workers=2, kills=[(KILL_AT_S, APP, d) for d in on_victim if d in BRANCH_OF],
                        kill=lambda app, deployment: c.kill_node(victim) if c.nodes[victim].poll() is None else None)
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready", 300,
                   "graph ready again")
        store = Store(store_url)
        stored = {r["idempotency_key"] for r in store.rows("strategy_outcomes")}
        store.close()
        acknowledged = set(load.pop("acknowledged_ids"))
        weights = httpx.get(f"{base}/v1/strategies/weights", timeout=30).json()
        report["node_kill"] = {"node": victim, "replicas_on_it": on_victim, **load,
                               "acknowledged": len(acknowledged), "acknowledged_lost": len(acknowledged - stored),
                               "stored": len(stored),
                               "bandit_outcomes": sum(s["outcomes"] for s in weights["strategies"]),
                               "placement_after": c.replica_nodes()}
        assert not acknowledged - stored, f"{len(acknowledged - stored)} acknowledged outcomes lost"
        assert report["node_kill"]["bandit_outcomes"] == len(stored)
    return report


def main() -> None:
    import shutil
    import tempfile

    (ROOT / ".tmp").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cluster-", dir=ROOT / ".tmp"))
    (work / "shared").mkdir()
    report: dict = {}
    try:
        scenario(work, report)
    except BaseException:
        print(f"measured before the failure: {json.dumps(report, default=str)}; the nodes' logs: {work}/ray-*.log",
              file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    kill = report["node_kill"]
    print(f"graph deployed and ready in {report['deploy_to_ready_s']} s; replicas: {report['placement']} "
          f"(GPU plan: {report['gpu_plan']})")
    print(f"Tune sweep as a Ray Job: {report['sweep_s']} s, trials on {report['sweep_nodes']}")
    print(f"promotion to {report['promoted']['version']} on {report['promoted']['node']}: {report['promotion_s']} s")
    print(f"killed node {kill['node']} (hosting {', '.join(kill['replicas_on_it'])}) at {KILL_AT_S:g} s of "
          f"{kill['duration_s']} s: {kill['requests']} requests, {kill['failed']} failed; acknowledged outcomes "
          f"{kill['acknowledged']}, lost {kill['acknowledged_lost']}; back after {kill['recovery_s']} s")
    save_result(ROOT / "bench" / "results" / "local_cluster.json", "python deploy/local_cluster.py",
                {"load_s": LOAD_S, "kill_at_s": KILL_AT_S, "workers": 2, "worker_cpus": WORKER_CPUS,
                 "cards": CARDS}, report)


if __name__ == "__main__":
    main()
