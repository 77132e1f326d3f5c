"""Fine-tune any Hugging Face checkpoint into a three-label news sentiment model, and the
bag-of-words baseline it must beat.

Labelled texts come from a CSV (`text,label`, labels positive / negative / neutral) or from a
Financial PhraseBank agreement level. The split is stratified by label, so the held-out part
keeps the class mix. The saved directory (model + tokenizer, labels named) is what the
sentiment deployment's `model` setting takes.

    investiq finetune-sentiment --model ProsusAI/finbert --csv labelled.csv --out var/finbert-ft
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from models.sentiment import LABELS, SentimentModel
from training.sentiment_eval import classification_scores

logger = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    test_size: float = 0.2
    max_length: int = 64
    seed: int = 0


def read_labelled_csv(path: Path) -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV with `text` and `label` columns; unknown labels are an error."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"text", "label"} <= set(rows[0]):
        raise ValueError(f"{path}: need a header with `text` and `label` columns")
    labels = [r["label"].strip().lower() for r in rows]
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not among {list(LABELS)}")
    return [r["text"] for r in rows], labels


def stratified_split(texts: list[str], labels: list[str], test_size: float, seed: int):
    """(train_texts, test_texts, train_labels, test_labels), the class mix kept in both."""
    return train_test_split(texts, labels, test_size=test_size, stratify=labels, random_state=seed)


def tfidf_baseline(train_texts: list[str], train_labels: list[str]):
    """Word and bigram TF-IDF into logistic regression: what a transformer must beat."""
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                          LogisticRegression(C=10.0, max_iter=2000))
    return model.fit(train_texts, train_labels)


def three_label_classifier(checkpoint: str):
    """The checkpoint as a classifier over LABELS, and each label's output index. A checkpoint
    already labelled positive/negative/neutral keeps its head and order (FinBERT); any other
    gets a fresh three-label head."""
    names = {str(v).lower() for v in AutoConfig.from_pretrained(checkpoint).id2label.values()}
    if names == set(LABELS):
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            checkpoint, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)}, ignore_mismatched_sizes=True)
    return model, {str(v).lower(): int(k) for k, v in model.config.id2label.items()}


def finetune(checkpoint: str, texts: list[str], labels: list[str], out_dir: Path,
             config: FinetuneConfig = FinetuneConfig()) -> dict:
    """Fine-tune `checkpoint` on a stratified train part, score the held-out part, save to `out_dir`."""
    torch.manual_seed(config.seed)
    train_texts, test_texts, train_labels, test_labels = stratified_split(texts, labels, config.test_size,
                                                                          config.seed)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model, label_ids = three_label_classifier(checkpoint)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    targets = torch.tensor([label_ids[l] for l in train_labels])
    max_length = min(config.max_length, tokenizer.model_max_length)
    rng = np.random.default_rng(config.seed)
    history = []
    for epoch in range(config.epochs):
        model.train()
        losses = []
        for idx in np.array_split(rng.permutation(len(train_texts)), max(1, len(train_texts) // config.batch_size)):
            batch = tokenizer([train_texts[i] for i in idx], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(device)
            loss = model(**batch, labels=targets[idx].to(device)).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses))})
        logger.info("epoch %d  train loss %.4f", epoch, history[-1]["train_loss"])
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    tuned = SentimentModel(str(out_dir), prefer_gpu=False)
    predicted = [s.label for i in range(0, len(test_texts), 64) for s in tuned.score(test_texts[i:i + 64])]
    baseline = tfidf_baseline(train_texts, train_labels)
    return {"checkpoint": checkpoint, "out_dir": str(out_dir), "train": len(train_texts), "test": len(test_texts),
            "history": history, "held_out": classification_scores(predicted, test_labels),
            "tfidf_baseline": classification_scores(list(baseline.predict(test_texts)), test_labels)}
