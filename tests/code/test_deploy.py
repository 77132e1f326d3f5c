"""What ships for operators: the KubeRay manifest carries serve_config.yaml's application,
and the Grafana dashboard charts exactly the metrics the deployments export."""

import copy
import json
import re

import pytest
import yaml

from tests.support import PROJECT_ROOT

# What a cluster sets differently from one machine, and why: the registry lives on a shared volume.
CLUSTER_OVERRIDES = {("price", "model_dir"): "/models/price", ("volatility", "model_dir"): "/models/volatility"}


def test_rayservice_carries_the_same_application_as_serve_config():
    local = yaml.safe_load((PROJECT_ROOT / "serve_config.yaml").read_text())
    manifest = yaml.safe_load((PROJECT_ROOT / "deploy/kuberay/rayservice.yaml").read_text())
    assert manifest["kind"] == "RayService"
    cluster = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    expected = copy.deepcopy(local["applications"])
    for (section, key), value in CLUSTER_OVERRIDES.items():
        expected[0]["args"][section][key] = value
    assert cluster["applications"] == expected
    assert manifest["spec"]["rayClusterConfig"]["rayVersion"] in (PROJECT_ROOT / "pyproject.toml").read_text()


def test_dashboard_charts_every_exported_metric_and_nothing_else():
    dashboard = json.loads((PROJECT_ROOT / "deploy/grafana/investiq.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    charted = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"ray_(investiq_\w+)", exprs)}
    source = (PROJECT_ROOT / "deployments/metrics.py").read_text()
    defined = set(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(investiq_\w+)"', source))
    assert defined and charted == defined
    assert all(p.get("description") for p in dashboard["panels"]), "every panel says what it means"


def test_the_manifest_exposes_the_graph_only_with_an_api_key_from_a_secret(monkeypatch):
    from deployments.config import IngressConfig
    from graph import check_exposure

    manifest = yaml.safe_load((PROJECT_ROOT / "deploy/kuberay/rayservice.yaml").read_text())
    serve_config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    host = serve_config["http_options"]["host"]
    grpc_on = bool(serve_config["grpc_options"]["grpc_servicer_functions"])
    groups = [manifest["spec"]["rayClusterConfig"]["headGroupSpec"], *manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"]]
    for group in groups:
        for container in group["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in container["env"]}
            assert "secretKeyRef" in env[IngressConfig().api_key_env]["valueFrom"], container["name"]
            # The dashboard (Jobs and Serve REST APIs) binds 0.0.0.0 too: Ray's token auth guards it.
            assert env["RAY_AUTH_MODE"]["value"] == "token" and "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"]
    monkeypatch.delenv(IngressConfig().api_key_env, raising=False)
    for exposed in ({"host": host}, {"host": "127.0.0.1", "grpc_on": grpc_on}):
        with pytest.raises(ValueError, match="is not set"):
            check_exposure(config=IngressConfig(), **exposed)
    monkeypatch.setenv(IngressConfig().api_key_env, "from-the-secret")
    check_exposure(host, IngressConfig(), grpc_on)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_key_and_an_explicit_opt_out_opens_any_address(monkeypatch, host):
    from deployments.config import IngressConfig
    from graph import check_exposure

    monkeypatch.delenv(IngressConfig().api_key_env, raising=False)
    check_exposure(host, IngressConfig())
    check_exposure("0.0.0.0", IngressConfig(allow_unauthenticated=True), grpc_on=True)


def test_the_manifest_packs_serve_replicas_as_the_gpu_plan_assumes():
    """Serve spreads replicas over nodes unless told to pack them: then two half-card replicas
    take half of each card (deploy/local_cluster.py measures it) and Tune finds no card whole."""
    manifest = yaml.safe_load((PROJECT_ROOT / "deploy/kuberay/rayservice.yaml").read_text())
    (head,) = manifest["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in head["env"]}
    assert env["RAY_SERVE_USE_PACK_SCHEDULING_STRATEGY"] == "1"  # read by the Serve controller, on the head
