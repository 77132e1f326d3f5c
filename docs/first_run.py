"""The README's first run, reproduced: a fresh install offline, then the operator page.

Starts `serve run` on the repository's serve_config.yaml as `make serve` does, with only the
port, the data directory and the price registry moved to a fresh temporary directory (so the
embedded default price model is served, and FinBERT cannot be downloaded); sends the README's
`investiq request` example and prints what came back (the run fails unless every branch
answered but those in EXPECTED_DEGRADED); runs the scripted agent loop over the last QQQ daily bars, which settles
its predictions; then opens /operator in headless Chromium and saves docs/operator_page.png,
the README's screenshot. A few minutes on 2 cores.

    python docs/first_run.py [--steps 60] [--screenshot docs/operator_page.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from client import InvestIQClient  # noqa: E402
from client.agent_loop import run_agent_loop  # noqa: E402
from tests.headless import Browser, chromium_binary  # noqa: E402
from tests.support import free_port, serve_run, wait_until  # noqa: E402
from training.data import load_bars_csv, shared_data_dir  # noqa: E402
from training.default_model import BARS  # noqa: E402

NEWS = ["Fed holds rates steady", "QQQ inflows hit a record"]
# Degraded on a fresh install offline: sentiment only (the hub is unreachable); price and
# volatility answer from their embedded defaults.
EXPECTED_DEGRADED = ["sentiment"]


def fresh_config(work: Path, port: int) -> dict:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = port
    args = config["applications"][0]["args"]
    args["data_dir"] = str(work / "var")
    for name, section in args.items():  # every model registry fresh, as on a new machine
        if isinstance(section, dict) and "model_dir" in section:
            section["model_dir"] = str(work / "var" / "models" / name)
    return config


def readme_signal(base: str, bars: Path) -> dict:
    """The README's example: `investiq request ... > /tmp/signal.json`, then POST it to /v1/signal."""
    body = subprocess.run([sys.executable, "-m", "training.cli", "request", "--symbol", "QQQ", "--bars", str(bars),
                           "--session", "all", *[a for n in NEWS for a in ("--news", n)]],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout
    signal = httpx.post(f"{base}/v1/signal", content=body, headers={"content-type": "application/json"},
                        timeout=30).json()
    degraded = sorted(d["branch"] for d in signal["degraded"])
    if degraded != EXPECTED_DEGRADED:
        raise SystemExit(f"the README's example should degrade {EXPECTED_DEGRADED} only, not {degraded}: "
                         f"{signal['degraded']}")
    return signal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="signals the agent loop sends (default 60)")
    parser.add_argument("--screenshot", default=str(ROOT / "docs" / "operator_page.png"))
    args = parser.parse_args()
    bars = shared_data_dir() / BARS
    if not bars.is_file() or chromium_binary() is None:
        raise SystemExit(f"needs the QQQ daily bars at {bars} and Chromium (`make browser`)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp, \
            serve_run(fresh_config(Path(tmp), port), Path(tmp)) as (proc, log):
        wait_until(lambda: proc.poll() is None and httpx.get(f"{base}/readyz", timeout=5).json()["branches"]
                   ["price"]["ready"], 300, f"the price branch ready (see {log})")
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=5).json()["branches"]["sentiment"]["state"]
                   != "loading", 300, "sentiment's load given up (the hub is unreachable)")
        signal = readme_signal(base, bars)
        print(json.dumps({k: signal[k] for k in ("decision", "actionable", "not_actionable_because", "degraded",
                                                 "model_versions")}, indent=2))
        with InvestIQClient(base, timeout=30) as api:
            report = run_agent_loop(api, load_bars_csv(bars), "QQQ", 513, args.steps, NEWS, session="all")
        print(json.dumps({k: report[k] for k in ("signals", "decisions", "predictions_settled")}))
        with Browser(chromium_binary()) as browser:
            browser.open(f"{base}/operator?days=1")
            if browser.problems():
                raise SystemExit(f"the page's console: {browser.problems()}")
            print(f"screenshot: {browser.screenshot(Path(args.screenshot))}")


if __name__ == "__main__":
    main()
