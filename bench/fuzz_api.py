"""Schemathesis over the whole API: requests generated from openapi.json (examples, edge
cases of every constraint, random fuzzing) against `serve run serve_config.yaml` on tiny
models; the check is that no request gets a 5xx. Prints schemathesis's summary and writes
bench/results/fuzz_api.json with the count of cases and failures.

    python bench/fuzz_api.py                      # --max-examples 100: well over 1,000 cases
    python bench/fuzz_api.py --tiny               # the smoke test's settings
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from common import ROOT, bench_parser, save_result, wait_ready


def main() -> None:
    parser = bench_parser(__doc__, "fuzz_api", port=8773)
    parser.add_argument("--max-examples", type=int, default=100, help="per operation and phase")
    args = parser.parse_args()
    max_examples = 3 if args.tiny else args.max_examples

    import httpx

    from tests.support import make_tiny_bert, make_tiny_price_model, serve_config_with, serve_run

    work = ROOT / ".tmp" / "fuzz-api"
    shutil.rmtree(work, ignore_errors=True)
    config = serve_config_with(make_tiny_bert(work / "bert"), make_tiny_price_model(work / "price"), work / "var",
                               args.port)
    base = f"http://127.0.0.1:{args.port}"
    with serve_run(config, work) as (proc, log_path), httpx.Client(base_url=base, timeout=60) as client:
        wait_ready(client, proc, log_path=log_path)
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", str(ROOT / "openapi.json"), "--url", base,
             "--checks", "not_a_server_error", "--max-examples", str(max_examples), "--seed", "1"],
            capture_output=True, text=True, cwd=work)
    print(run.stdout[-3000:])
    cases = re.search(r"(\d+) generated, (\d+) passed(?:, (\d+) failed)?", run.stdout)
    if cases is None:
        raise SystemExit(f"schemathesis printed no summary (exit {run.returncode}):\n{run.stderr[-2000:]}")
    generated, passed = int(cases[1]), int(cases[2])
    shutil.rmtree(work, ignore_errors=True)
    print(f"{generated} generated cases, {generated - passed} with a 5xx (schemathesis exit {run.returncode})")
    save_result(args.out, "python bench/fuzz_api.py" + (" --tiny" if args.tiny else f" --max-examples {max_examples}"),
                {"tiny": args.tiny, "max_examples": max_examples},
                {"cases": generated, "passed": passed, "server_errors": generated - passed,
                 "exit_code": run.returncode})


if __name__ == "__main__":
    main()
