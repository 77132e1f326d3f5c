import subprocess
import sys

from tests.support import PROJECT_ROOT


def test_ingress_ledger_and_har_volatility_replicas_do_not_import_torch(tiny_har_dir):
    """They need no network model; torch and transformers would cost each of them ~250 MiB.
    The volatility replica imports them only when it serves a PatchTST model: loading HAR and
    forecasting with it import neither."""
    check = ("import sys, asyncio, deployments.ingress, deployments.ledger, client; "
             "from deployments.config import VolatilityConfig; from deployments.volatility import VolatilityDeployment; "
             "c = [100.0 + i / 10 for i in range(20)]; "
             "bars = {'timestamps': [1.75e9 + 300 * i for i in range(20)], 'open': c, 'close': c, "
             "'high': [x * 1.001 for x in c], 'low': [x * 0.999 for x in c], 'volume': [1.0] * 20}; "
             "replica = VolatilityDeployment.func_or_class(VolatilityConfig(), False, None); "
             f"asyncio.run(replica.slot.load({str(tiny_har_dir)!r})); "
             "assert asyncio.run(replica.forecast(bars)).horizons; "
             "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
             "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
