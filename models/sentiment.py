"""Financial news sentiment with any Hugging Face sequence-classification model.

FinBERT (`ProsusAI/finbert`) is the default; any checkpoint whose labels name positive,
negative and neutral works, by hub id or local directory. Each model's own `id2label`
is mapped onto one fixed schema so callers never depend on a checkpoint's label order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from models import DEFAULT_SENTIMENT_MODEL
LABELS = ("positive", "negative", "neutral")


@dataclass(frozen=True)
class SentimentScore:
    label: str
    confidence: float
    probabilities: dict[str, float]
    score: float  # P(positive) - P(negative), in [-1, 1]


def pick_device(prefer_gpu: bool = True) -> torch.device:
    return torch.device("cuda" if prefer_gpu and torch.cuda.is_available() else "cpu")


def label_columns(id2label: dict[int, str]) -> list[int]:
    """Column of the logits for each of LABELS, whatever order the checkpoint uses."""
    by_name = {str(name).lower(): int(idx) for idx, name in id2label.items()}
    missing = [label for label in LABELS if label not in by_name]
    if missing:
        raise ValueError(
            f"model labels {sorted(by_name)} lack {missing}; "
            "use a checkpoint labelled positive/negative/neutral"
        )
    return [by_name[label] for label in LABELS]


class SentimentModel:
    """Tokenizer + classifier on one device; `score` takes a batch of texts."""

    def __init__(self, model_name_or_path: str = DEFAULT_SENTIMENT_MODEL, prefer_gpu: bool = True):
        self.model_id = model_name_or_path
        self.device = pick_device(prefer_gpu)
        self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.model = AutoModelForSequenceClassification.from_pretrained(model_name_or_path, dtype=dtype)
        self.model.to(self.device).eval()
        # The hub's commit of the checkpoint when it came from the hub; "local" for a directory.
        self.version = getattr(self.model.config, "_commit_hash", None) or "local"
        self.columns = label_columns(self.model.config.id2label)
        self.max_length = min(
            self.tokenizer.model_max_length, self.model.config.max_position_embeddings
        )

    @torch.inference_mode()
    def score(self, texts: list[str]) -> list[SentimentScore]:
        if not texts:
            return []
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        logits = self.model(**batch).logits.float()
        probs = torch.softmax(logits[:, self.columns], dim=-1).cpu().numpy()
        results = []
        for row in probs:
            best = int(row.argmax())
            results.append(
                SentimentScore(
                    label=LABELS[best],
                    confidence=float(row[best]),
                    probabilities={label: float(p) for label, p in zip(LABELS, row)},
                    score=float(row[0] - row[1]),
                )
            )
        return results
