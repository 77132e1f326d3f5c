"""Each bench script runs end to end on tiny settings, so benchmarks never rot.
No timing is asserted: speed is measured by the scripts themselves, not by tests."""

import json
import subprocess
import sys

import pytest

from tests.support import PROJECT_ROOT, free_port


def run_bench(script: str, out, *extra: str) -> dict:
    subprocess.run([sys.executable, f"bench/{script}", "--tiny", "--out", str(out), *extra],
                   cwd=PROJECT_ROOT, check=True, timeout=600)
    return json.loads(out.read_text())


def test_graph_memory(tmp_path):
    result = run_bench("graph_memory.py", tmp_path / "r.json", "--requests", "2", "--port", str(free_port()))
    names = {p["name"] for p in result["processes"]}
    assert {"ray::ServeReplica:investiq:Sentiment", "ray::ServeReplica:investiq:Ingress"} <= names
    assert result["total_pss_mib"] > 0


def test_graph_latency(tmp_path):
    result = run_bench("graph_latency.py", tmp_path / "r.json", "--port", str(free_port()))
    assert set(result["signal"]) == {"1", "8", "32"}
    assert set(result["direct_ms"]) == {"sentiment", "price", "strategies"}
    assert "client_to_ingress_and_back" in result["hops_ms"] and "overhead_ms" in result
    assert result["floor"]["hop"]["n"] > 0  # Serve's floor app answered beside the graph
    assert result["watchlist"]["rejected_503"] == 0 and result["watchlist"]["signals_per_s"] > 0
    assert result["watchlist"]["degraded"] == {} and result["watchlist_bars_only"]["signals_per_s"] > 0
    assert set(result["ratios"]) >= {"overhead_over_floor", "watchlist_over_sequential", "watchlist_over_bare",
                                     "concurrency_32_over_bare_sentiment", "grpc_over_http_watchlist_bars_only"}
    grpc = result["grpc"]  # the gRPC API answered the same loads, none degraded or refused
    assert grpc["signal"]["client"]["n"] > 0 and grpc["watchlist_bars_only"]["signals_per_s"] > 0
    assert grpc["watchlist"]["degraded"] == {} and grpc["watchlist"]["rejected_503"] == 0


def test_batching_gain(tmp_path):
    result = run_bench("batching_gain.py", tmp_path / "r.json", "--port", str(free_port()))
    assert result["batched"]["requests_per_s"] > 0 and result["unbatched"]["requests_per_s"] > 0


def test_train_throughput(tmp_path):
    result = run_bench("train_throughput.py", tmp_path / "r.json")
    assert result["project_samples_per_s"] > 0 and result["bare_samples_per_s"] > 0


@pytest.mark.parametrize("script", ["gpu_sentiment.py"])
def test_gpu_script_runs_on_cpu(tmp_path, script):
    result = run_bench(script, tmp_path / "r.json", "--port", str(free_port()))
    assert result["open_loop"]["failures"] == 0 and result["served_texts_per_s"] > 0


def test_hop_latency(tmp_path):
    result = run_bench("hop_latency.py", tmp_path / "r.json", "--port", str(free_port()))
    assert "status (bare hop)" in result["handle_ms"] and "/healthz (bare path)" in result["http_ms"]


def test_chaos(tmp_path):
    result = run_bench("chaos.py", tmp_path / "r.json", "--port", str(free_port()))
    assert [k["deployment"] for k in result["kills"]] == ["Ledger", "Sentiment", "Price"]
    assert result["acknowledged_lost"] == 0 and result["requests"] > 0


def test_open_loop(tmp_path):
    result = run_bench("open_loop.py", tmp_path / "r.json", "--port", str(free_port()))
    assert result["capacity_rps"] > 0 and result["sent"] > 0 and result["samples"]


def test_fuzz_api(tmp_path):
    result = run_bench("fuzz_api.py", tmp_path / "r.json", "--port", str(free_port()))
    assert result["cases"] > 0 and result["exit_code"] == 0
