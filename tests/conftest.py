"""Shared fixtures. Tests never touch the network: the hub is offline and models are built here."""

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = PROJECT_ROOT / ".tmp"
WORK_DIR.mkdir(exist_ok=True)
os.environ.setdefault("RAY_TMPDIR", str(WORK_DIR / "ray"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from models.price_direction import CHANNELS, PriceDirectionModel, PriceModelMetadata, build_patchtst  # noqa: E402

TINY_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "stock", "shares", "profit", "loss", "rose", "fell", "beat", "missed",
    "earnings", "record", "lawsuit", "growth", "company", "quarter", "a", "of", "in",
]
TINY_CONTEXT = 32


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


def make_tiny_price_model(directory: Path, version: str = "v-test") -> Path:
    network = build_patchtst(context_length=TINY_CONTEXT, patch_length=8, patch_stride=8,
                             d_model=16, num_attention_heads=2, num_hidden_layers=1, ffn_dim=32)
    metadata = PriceModelMetadata(
        model_id="patchtst-tiny", version=version, horizon=4, flat_band_bp=5.0,
        feature_mean=[0.0] * len(CHANNELS), feature_std=[1.0] * len(CHANNELS),
        class_mean_returns=[0.002, 0.0, -0.002],
    )
    return PriceDirectionModel(network, metadata, prefer_gpu=False).save(directory)


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


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_price_dir(tmp_path_factory) -> Path:
    return make_tiny_price_model(tmp_path_factory.mktemp("tiny-price"))
