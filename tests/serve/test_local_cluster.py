"""A head and two worker nodes on this machine, the graph deployed with `serve deploy`,
PostgreSQL as the store and a shared model registry: the checks of `deploy/local_cluster.py`
(GPU plan, a Tune sweep as a Ray Job on the free card, promotion across nodes, a worker node
killed under load), run as a test. Minutes on 2 cores: `make test-slow`."""

import sys

import pytest

from tests.services import ServiceUnavailable, postgres_bindir
from tests.support import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "deploy"))
from local_cluster import CARDS, scenario  # noqa: E402


@pytest.mark.slow
def test_the_graph_on_a_three_node_cluster(tmp_path):
    try:
        postgres_bindir()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    (tmp_path / "shared").mkdir()
    report = scenario(tmp_path, {})
    assert report["sweep_nodes"] != [] and set(report["sweep_nodes"]) <= set(CARDS)
    kill = report["node_kill"]
    assert kill["acknowledged"] > 0 and kill["acknowledged_lost"] == 0
    assert all(r is not None for r in kill["recovery_s"].values()), kill["recovery_s"]
