"""Schemathesis against the live app's OpenAPI schema: generated requests to every route,
none may answer 5xx (a short run; `python bench/fuzz_api.py` runs 1,000+ cases)."""

import subprocess
import sys
from pathlib import Path

from tests.support import PROJECT_ROOT


def test_generated_requests_never_get_a_5xx(client, tmp_path):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [str(schemathesis), "run", str(PROJECT_ROOT / "openapi.json"), "--url", str(client.base_url).rstrip("/"),
         "--checks", "not_a_server_error", "--max-examples", "10", "--seed", "1",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    (PROJECT_ROOT / ".tmp/fuzz.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-6000:]
