"""The shipped Grafana dashboard against a real Prometheus (Debian's package): Prometheus
scrapes Ray's metrics export of the session's graph while signals flow, and every query of
`deploy/grafana/investiq.json` returns data through Prometheus's HTTP API, with the
dashboard's template variable filled in as Grafana fills it."""

import itertools
import json
import math
import re
import threading
import time

import pytest
import ray
from ray import serve

from deployments.config import IngressConfig
from deployments.ingress import SignalIngress
from tests.serve.conftest import produce_metric_events
from tests.serve.fakes import FailingBranch
from tests.services import ServiceUnavailable, prometheus
from tests.support import PROJECT_ROOT, TINY_CONTEXT, random_walk_bars, wait_until

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "investiq.json"
BARS = random_walk_bars(TINY_CONTEXT + 1)
# Ray keeps a gauge in its export about 20 s after it was last set: past this, a gauge set
# once (the served model's version, at load) is there only if it is kept set.
GAUGE_OUTLIVED_S = 25.0


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def grafana_regex_escape(value: str) -> str:
    """As Grafana's Prometheus data source escapes a value for a regex matcher, inside a PromQL string."""
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value.replace("\\", "\\\\\\\\"))


def fill_variables(expr: str, values: dict[str, list[str]]) -> str:
    """As Grafana fills a multi-value variable set to All: `(a|b)`, each value regex-escaped."""
    def value(match: re.Match) -> str:
        return "(" + "|".join(grafana_regex_escape(v) for v in values[match[1] or match[2]]) + ")"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def variable_values(prom, dashboard: dict) -> dict[str, list[str]]:
    """Each query variable's values, from its own `label_values(metric, label)` query."""
    values = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"]).groups()
            values[variable["name"]] = prom.label_values(label, metric)
    return values


@pytest.fixture(scope="module")
def faulty(http):
    """An ingress whose branches all fail: the degraded branches the dashboard charts."""
    failing = FailingBranch.bind()
    serve.run(SignalIngress.options(ray_actor_options={"num_cpus": 0.05}).bind(
        failing, failing, failing, failing, IngressConfig(shadow=False)), name="prom-faulty",
        route_prefix="/prom-faulty")
    wait_until(lambda: http.get("/prom-faulty/healthz").status_code == 200, 60, "faulty app up")
    yield http
    serve.delete("prom-faulty")


@pytest.fixture
def prom(ray_cluster):
    """Prometheus scraping the session's Ray node every second."""
    port = ray._private.worker.global_worker.node.metrics_export_port
    try:
        with prometheus([{"job_name": "ray", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]) as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


def test_every_dashboard_query_returns_data_from_prometheus(client, faulty, prom, tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    stop = threading.Event()

    def traffic() -> None:  # rates need the counters to move while Prometheus scrapes
        for i in itertools.count():
            if stop.wait(0.5):
                return
            signal = {"symbol": "SPY", "bars": BARS, "news": ["shares rose", f"record quarter {i}"]}  # a cache hit, a miss
            client.post("/v1/signal", json=signal)
            faulty.post("/prom-faulty/v1/signal", json=signal)

    def every_query_answers() -> bool:
        values = variable_values(prom, dashboard)
        queries = [(title, fill_variables(expr, values)) for title, expr in dashboard_queries(dashboard)]
        silent = [f"{title}: {expr}" for title, expr in queries
                  if not any(math.isfinite(float(r["value"][1])) for r in prom.query(expr))]
        assert not silent, silent
        return True

    wait_until(lambda: prom.targets_up() == 1, 30, "Prometheus scraping Ray's export")
    sender = threading.Thread(target=traffic, daemon=True)
    began = time.monotonic()
    sender.start()
    try:
        produce_metric_events(client, tmp_path)
        time.sleep(max(0.0, began + GAUGE_OUTLIVED_S - time.monotonic()))
        wait_until(every_query_answers, 120, "every dashboard query returning data")
        assert set(variable_values(prom, dashboard)["application"]) >= {"investiq", "prom-faulty"}
    finally:
        stop.set()
        sender.join(timeout=60)
