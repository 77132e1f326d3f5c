"""Shared by the bench scripts: models the size of the real ones, readiness, saving results."""

from __future__ import annotations

import argparse
import shutil
from contextlib import contextmanager
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from tests.support import serve_settings_for_the_cluster  # noqa: E402

serve_settings_for_the_cluster()  # a graph deployed from here runs as `make serve` runs it
BENCH_DIR = ROOT / "bench"
RESULTS = BENCH_DIR / "results"
HEADLINE = "Shares of the company rose after record quarterly profit beat estimates"


def make_sentiment_checkpoint(directory: Path, tiny: bool) -> Path:
    """BERT-base with random weights (FinBERT's size and compute; FinBERT cannot be downloaded
    here), or a 2-layer toy with --tiny."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    labels = {0: "positive", 1: "negative", 2: "neutral"}
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted(set(HEADLINE.lower().split() + "shares rose fell profit loss the company".split()))
    size = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32} if tiny else {}
    config = BertConfig(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()}, **size)
    filler = [f"tok{i}" for i in range(config.vocab_size - len(special) - len(words))]
    vocab = {w: i for i, w in enumerate(special + words + filler)}
    BertTokenizer(vocab=vocab, model_max_length=config.max_position_embeddings).save_pretrained(directory)
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


def make_price_model(directory: Path, tiny: bool) -> Path:
    """The default PatchTST direction model with a 512-bar context (32 with --tiny)."""
    from models.price_direction import CHANNELS, PriceDirectionModel, PriceModelMetadata, build_patchtst

    network = build_patchtst(context_length=32 if tiny else 512)
    metadata = PriceModelMetadata(model_id="patchtst-bench", version="bench", horizon=12, flat_band_bp=5.0,
                                  feature_mean=[0.0] * len(CHANNELS), feature_std=[1.0] * len(CHANNELS),
                                  class_mean_returns=[0.001, 0.0, -0.001])
    return PriceDirectionModel(network, metadata, prefer_gpu=False).save(directory)


def bench_parser(doc: str, name: str, port: int | None = None) -> argparse.ArgumentParser:
    """The flags every bench shares: --tiny (smoke-test settings), --out, and --port if it serves."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny models and few requests (the smoke test's settings)")
    parser.add_argument("--out", default=str(RESULTS / f"{name}.json"))
    if port is not None:
        parser.add_argument("--port", type=int, default=port)
    return parser


def bench_models(prefix: str, tiny: bool) -> tuple[Path, Path, Path]:
    """A scratch folder under .tmp/ holding a sentiment checkpoint and a price model."""
    (ROOT / ".tmp").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT / ".tmp"))
    return work, make_sentiment_checkpoint(work / "bert", tiny), make_price_model(work / "price", tiny)


def wait_ready(client, proc=None, timeout_s: float = 300, log_path=None) -> None:
    """Until /readyz says every branch is ready (a plain-text 404 until the routes are up)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            raise SystemExit(f"graph not ready after {timeout_s:g} s; see {log_path}")
        try:
            r = client.get("/readyz")
            if r.status_code == 200 and r.json()["status"] == "ready":
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


def percentiles(samples_ms: list[float]) -> dict:
    a = np.asarray(samples_ms)
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99)), "n": len(a)}


def save_result(out: str | Path, command: str, settings: dict, results: dict) -> None:
    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "commit": (commit.stdout.strip() + ("+uncommitted changes" if dirty else "")) or None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "settings": settings,
        **results,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(record, indent=2))
    print(f"written to {out}")


def process_tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def memory_of(pid: int) -> tuple[str, float, float] | None:
    """(process name, RSS MiB, PSS MiB)"""
    try:
        name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    fields = {line.split(":")[0]: float(line.split()[1]) / 1024 for line in rollup if line.startswith(("Rss", "Pss:"))}
    return Path(name).name[:60], fields.get("Rss", 0.0), fields.get("Pss", 0.0)


def graph_rss_mib(root_pid: int) -> float:
    """RSS summed over a process and everything under it (e.g. `serve run` and its Ray)."""
    return sum(m[1] for pid in [root_pid, *process_tree(root_pid)] if (m := memory_of(pid)))


async def open_loop(base: str, route: str, body: dict, rate: float, duration_s: float,
                    sample=None, sample_every_s: float = 5.0) -> dict:
    """Requests at a fixed rate whatever the answers (open loop, as independent agents send
    them): status counts, latency percentiles of the 200s and of the rest, and `sample()`
    called every `sample_every_s` (e.g. memory)."""
    import asyncio

    import aiohttp

    results: list[tuple[int, float]] = []  # (status or 0 for no answer, ms)
    samples, degraded = [], []
    # aiohttp, not httpx: with hundreds of requests in flight httpx's own connection pool
    # stalls, which reads as the server's latency (seen against a plain uvicorn app, no Ray).
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=120)) as client:
        async def one():
            start = time.perf_counter()
            try:
                async with client.post(route, json=body) as response:
                    answer = await response.read()
                    status = response.status
                if status == 200 and json.loads(answer).get("degraded"):
                    degraded.append(1)  # admitted, but a branch did not answer in time
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            results.append((status, (time.perf_counter() - start) * 1e3))

        begin, tasks, n, next_sample = time.perf_counter(), [], 0, 0.0
        while (now := time.perf_counter() - begin) < duration_s:
            if sample is not None and now >= next_sample:
                samples.append((round(now, 1), sample()))
                next_sample += sample_every_s
            tasks.append(asyncio.create_task(one()))
            n += 1
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
        if sample is not None:
            samples.append((round(time.perf_counter() - begin, 1), sample()))
    ok = [ms for status, ms in results if status == 200]
    other = [ms for status, ms in results if status != 200]
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"offered_rate": rate, "sent": len(results), "statuses": statuses, "admitted_degraded": len(degraded),
            "admitted_ms": percentiles(ok) if ok else None, "rejected_ms": percentiles(other) if other else None,
            "samples": samples}


@contextmanager
def graph_in_process(work: Path, port: int, graph_args: dict):
    """The graph deployed in a Ray that this process starts (for benches that need handles
    or `ray.kill`); yields the base URL once every branch is ready. `work` is removed after
    a clean run and kept for a look after a failure."""
    import httpx
    import ray
    from ray import serve

    from deployments.config import GraphConfig
    from graph import build_app
    from tests.support import make_tiny_har_model, ray_tmpdir

    graph_args = {"volatility": {"model_dir": str(make_tiny_har_model(work / "har"))}, **graph_args}
    os.environ["RAY_TMPDIR"] = ray_tmpdir(f"b-{work.name[-8:]}")
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(GraphConfig.model_validate(graph_args)), name="investiq", route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client)
        yield base
    except BaseException:
        print(f"kept {work} for a look", file=sys.stderr)
        raise
    finally:
        serve.shutdown()
        ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)
