import subprocess
import sys

from tests.support import PROJECT_ROOT


def test_ingress_and_ledger_replicas_do_not_import_torch():
    """They need no model; torch and transformers would cost each of them ~250 MiB."""
    check = ("import sys, deployments.ingress, deployments.ledger, client; "
             "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
             "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
