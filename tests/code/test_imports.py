import subprocess
import sys

from tests.support import PROJECT_ROOT


def test_ingress_ledger_and_har_volatility_replicas_do_not_import_torch(tiny_har_dir):
    """They need no network model; torch and transformers would cost each of them ~250 MiB.
    The volatility replica imports them only when it serves a PatchTST model."""
    check = ("import sys, deployments.ingress, deployments.ledger, deployments.volatility, client; "
             f"from models.har_model import load_volatility_model; load_volatility_model({str(tiny_har_dir)!r}); "
             "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
             "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
