"""Helpers shared by the tests and the bench scripts: synthetic bars, tiny models, and
`serve run` as a subprocess. Nothing here touches the network."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from models.input_range import fit_input_ranges
from models.price_direction import CHANNELS, PriceDirectionModel, PriceModelMetadata, build_patchtst, ohlcv_features

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "stock", "shares", "profit", "loss", "rose", "fell", "beat", "missed",
    "earnings", "record", "lawsuit", "growth", "company", "quarter", "a", "of", "in",
]
TINY_CONTEXT = 32
# The strategies the tests' graphs declare (ledger.strategies.names): the defaults and the tests' own.
TEST_STRATEGIES = ["momentum", "mean_reversion", "breakout", "investiq_buy", "investiq_sell", "s", "durable",
                   "client_rt", "sync_old", "metrics", "idem", "idem_signal", "reuse", "reuse_id", "minted",
                   "must-not-count"]
OHLCV = ("open", "high", "low", "close", "volume")


def make_tiny_bert(directory: Path) -> Path:
    """A 2-layer BERT classifier with FinBERT's label order, saved like a hub checkpoint."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    labels = {0: "positive", 1: "negative", 2: "neutral"}
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(TINY_VOCAB)}, model_max_length=16)
    config = BertConfig(
        vocab_size=len(TINY_VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=3,
        id2label=labels, label2id={v: k for k, v in labels.items()},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_news_layout(data_dir: Path, phrasebank_lines: list[str], fiqa: dict[str, float]) -> Path:
    """PhraseBank (`sentence@label` lines, the same at every agreement level, in each level's
    encoding) and FiQA headlines (text -> score) in the shared data folder's layout."""
    bank = data_dir / "news" / "financial_phrasebank"
    bank.mkdir(parents=True)
    text = "".join(line + "\n" for line in phrasebank_lines)
    for level in ("AllAgree", "75Agree", "66Agree", "50Agree"):
        (bank / f"Sentences_{level}.txt").write_bytes(text.encode("utf-8" if level == "AllAgree" else "latin-1"))
    folder = data_dir / "news" / "fiqa2018_task1"
    folder.mkdir(parents=True)
    items = {str(i): {"sentence": t, "info": [{"sentiment_score": str(s)}]} for i, (t, s) in enumerate(fiqa.items())}
    for split in ("train", "test"):
        (folder / f"task1_headline_ABSA_{split}.json").write_text(json.dumps(items))
    return data_dir


def make_tiny_price_model(directory: Path, version: str = "v-test", session: str = "all") -> Path:
    network = build_patchtst(context_length=TINY_CONTEXT, patch_length=8, patch_stride=8,
                             d_model=16, num_attention_heads=2, num_hidden_layers=1, ffn_dim=32)
    metadata = PriceModelMetadata(
        model_id="patchtst-tiny", version=version, horizon=4, flat_band_bp=5.0,
        feature_mean=[0.0] * len(CHANNELS), feature_std=[1.0] * len(CHANNELS),
        class_mean_returns=[0.002, 0.0, -0.002], base_rates=[0.35, 0.3, 0.35], bar_interval_s=300.0, session=session,
        edge_reference=[0.35, 0.3, 0.35], signal_threshold=0.02,  # as if its validation windows had chosen them
    )
    # As training stores them, from random-walk bars (read with mean 0, std 1): the tests' random walks
    # are in distribution, bars with volume 0 are not.
    features = ohlcv_features(*(random_walk_bars(4000)[k] for k in OHLCV))
    metadata.input_ranges = fit_input_ranges(features, np.arange(TINY_CONTEXT, len(features) + 1), TINY_CONTEXT)
    return PriceDirectionModel(network, metadata, prefer_gpu=False).save(directory)


def make_tiny_har_model(directory: Path, version: str = "har-test", session: str = "all") -> Path:
    """A HAR volatility model for 5-minute bars with short windows (so the tests' short series
    fit), as if fitted: horizons 4 (the tiny price model's) and 8."""
    from models.har_model import HarModelMetadata, HarVolatilityModel
    from models.risk import student_t_z

    horizons, windows = [4, 8], [2, 4, 8]
    metadata = HarModelMetadata(
        model_id="har-tiny", version=version, horizons=horizons, windows=windows,
        coefficients=[[0.0, 0.4 * h, 0.3 * h, 0.3 * h] for h in horizons], floor=[1e-12 * h for h in horizons],
        z_quantiles=[list(student_t_z(nu)[0]) for nu in (5.0, 6.0)], z_std=[1.0, 1.1], bar_interval_s=300.0,
        bars_per_year=252 * 78, session=session)
    return HarVolatilityModel(metadata).save(directory)


def random_walk_bars(n: int, seed: int = 0, start: float = 100.0) -> dict:
    """Valid OHLCV bars, 5 minutes apart, as the API's columnar payload."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[start], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, n))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    t0 = 1_750_000_000
    return {
        "timestamps": [t0 + 300 * i for i in range(n)],
        "open": open_.tolist(), "high": high.tolist(), "low": low.tolist(),
        "close": close.tolist(), "volume": volume.tolist(),
    }


def random_walk_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """The same bars as a time-indexed OHLCV frame, as training reads them."""
    bars = random_walk_bars(n, seed)
    return pd.DataFrame({k: bars[k] for k in OHLCV},
                        index=pd.to_datetime(bars["timestamps"], unit="s").rename("timestamp"))


# What Ray appends to RAY_TMPDIR for its longest socket path, with room for a long pid.
RAY_SOCKET_SUFFIX = "/ray/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store"
AF_UNIX_MAX = 107


def ray_tmpdir(name: str) -> str:
    """A RAY_TMPDIR under the project's .tmp/ when Ray's socket paths fit there (AF_UNIX allows
    107 bytes), else a short directory under /tmp: the clone's path length is not ours to pick."""
    inside = PROJECT_ROOT / ".tmp" / name
    if len(str(inside)) + len(RAY_SOCKET_SUFFIX) <= AF_UNIX_MAX:
        return str(inside)
    return tempfile.mkdtemp(prefix=f"ray-{name[:12]}-", dir="/tmp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(interval_s)
    raise AssertionError(f"{what} not reached within {timeout_s} s (last error: {last!r})")


def serve_config_with(sentiment_model: Path, price_model_dir: Path, data_dir: Path, port: int,
                      volatility_model_dir: Path | None = None) -> dict:
    """The repo's serve_config.yaml with only models, data dir and port swapped; without a
    volatility model, a tiny HAR one is made beside the data dir."""
    config = yaml.safe_load((PROJECT_ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = port
    args = config["applications"][0]["args"]
    args["sentiment"]["model"] = str(sentiment_model)
    args["price"]["model_dir"] = str(price_model_dir)
    args["volatility"]["model_dir"] = str(volatility_model_dir or make_tiny_har_model(
        Path(data_dir).parent / f"{Path(data_dir).name}-tiny-har"))
    args["data_dir"] = str(data_dir)
    return config


# Serve's settings as `make serve` runs the graph (the Makefile and the KubeRay manifest set the
# same). The throughput-optimised request path: one event loop per replica, gRPC between
# deployments; logs still go to stderr, where `serve run` shows the builder's warnings; direct
# ingress stays off (it would force HeadOnly proxies, open a port per ingress replica beside the
# proxy's admission, and hold every ingress shutdown for 35 s). And the gRPC proxy reads no
# message over 4 MB, HTTP's body limit (Ray's default: 2 GiB).
SERVE_SETTINGS = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_LOG_TO_STDERR": "1",
                  "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0", "RAY_SERVE_GRPC_MAX_MESSAGE_SIZE": "4000000"}


def serve_settings_for_the_cluster() -> None:
    """SERVE_SETTINGS (unless the environment sets them) for the Ray this process starts,
    while this process keeps Serve's defaults: its code calls handles from outside an event
    loop, which that path does not allow. Call it before anything imports Ray Serve: Serve
    reads the settings once, when it is imported; once Serve is imported it does nothing
    (the test suite's conftest calls it first, before the bench modules its tests import)."""
    if "ray.serve" in sys.modules:
        return
    wanted = {name: os.environ.pop(name, value) for name, value in SERVE_SETTINGS.items()}
    import ray.serve._private.constants  # noqa: F401  this process: the defaults

    os.environ.update(wanted)  # the processes Ray starts from here on


def serve_run_env(work_dir: Path, auth: bool = False) -> dict:
    """The environment `serve run` starts in: its own Ray (temporary files under .tmp/), offline.
    Token auth off, as the Makefile runs it; with `auth`, on, as a plain `serve run` gives a
    user, with the cluster's token in `work_dir/ray_token` (named by RAY_AUTH_TOKEN_PATH)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {**SERVE_SETTINGS, **os.environ, "RAY_TMPDIR": ray_tmpdir(f"r-{work_dir.name[-8:]}"),
           "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    if auth:
        token = work_dir / "ray_token"
        token.write_text(secrets.token_hex(32))
        env["RAY_AUTH_TOKEN_PATH"] = str(token)
    else:
        env["RAY_AUTH_MODE"] = "disabled"
    return env


@contextmanager
def serve_run(config: dict, work_dir: Path, env: dict | None = None):
    """`serve run` on `config` in its own Ray, as a user starts it (`env`: serve_run_env's,
    auth off by default); stopped with SIGTERM. Yields (process, log path); the log is where
    Ray prints, e.g. the dashboard address."""
    env = env or serve_run_env(work_dir)
    config_path, log_path = work_dir / "serve_config.yaml", work_dir / "serve.log"
    config_path.write_text(yaml.safe_dump(config))
    serve_bin = Path(sys.executable).with_name("serve")
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(serve_bin), "run", str(config_path)], cwd=PROJECT_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc, log_path
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def readme_metrics() -> set[str]:
    """The metrics the README's table lists, without Ray's `ray_` prefix."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("### Metrics and the Grafana dashboard", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    return {m for row in table.splitlines()[2:] for m in re.findall(r"`ray_(investiq_\w+)`", row.split("|")[1])}


def exported_metrics(port: int, names: set[str]) -> set[str]:
    """Those of `names` that Ray's Prometheus export on `port` carries (a histogram as its buckets)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {m for m in names if re.search(rf"^ray_{m}(_bucket|_total)?{{", text, re.M)}
