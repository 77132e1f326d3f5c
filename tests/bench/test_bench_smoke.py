"""Each bench script runs end to end on tiny settings, so benchmarks never rot. No timing is asserted."""

import json
import subprocess
import sys

from tests.support import PROJECT_ROOT
from tests.support import free_port


def test_graph_memory_smoke(tmp_path):
    out = tmp_path / "graph_memory.json"
    subprocess.run([sys.executable, "bench/graph_memory.py", "--tiny", "--requests", "2",
                    "--port", str(free_port()), "--out", str(out)], cwd=PROJECT_ROOT, check=True, timeout=400)
    result = json.loads(out.read_text())
    names = {p["name"] for p in result["processes"]}
    assert {"ray::ServeReplica:investiq:Sentiment", "ray::ServeReplica:investiq:Ingress"} <= names
    assert result["total_pss_mib"] > 0
