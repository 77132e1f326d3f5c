"""Sentiment models scored on labelled financial text nobody here wrote.

Financial PhraseBank (Malo et al. 2014) at each annotator-agreement level: accuracy,
macro-F1 and the confusion matrix against its three labels. FiQA-2018 task 1 headlines:
whether the sign of the model's score matches the sign of the annotated score. Any model
path or hub id that `models.sentiment.SentimentModel` loads can be scored; the FinBERT paper
reports 0.97 accuracy on AllAgree.

    investiq evaluate-sentiment --model ProsusAI/finbert
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.sentiment import LABELS, SentimentModel

AGREEMENT_LEVELS = ("AllAgree", "75Agree", "66Agree", "50Agree")


def load_phrasebank(data_dir: Path, agreement: str) -> tuple[list[str], list[str]]:
    """(sentences, labels) of one agreement level; AllAgree is UTF-8, the others ISO-8859-1."""
    path = data_dir / "news" / "financial_phrasebank" / f"Sentences_{agreement}.txt"
    encoding = "utf-8" if agreement == "AllAgree" else "iso-8859-1"
    texts, labels = [], []
    for line in path.read_text(encoding=encoding).splitlines():
        if line.strip():
            text, label = line.rsplit("@", 1)
            texts.append(text.strip())
            labels.append(label.strip())
    return texts, labels


def load_fiqa_headlines(data_dir: Path) -> tuple[list[str], list[float]]:
    """(headline, mean annotated score) for every headline of task 1, train and test."""
    texts, scores = [], []
    for split in ("train", "test"):
        path = data_dir / "news" / "fiqa2018_task1" / f"task1_headline_ABSA_{split}.json"
        for item in json.loads(path.read_text()).values():
            texts.append(item["sentence"])
            scores.append(float(np.mean([float(i["sentiment_score"]) for i in item["info"]])))
    return texts, scores


def classification_scores(predicted: list[str], actual: list[str]) -> dict:
    """Accuracy, macro-F1 over LABELS, and the confusion matrix (rows: actual, columns: predicted)."""
    index = {label: i for i, label in enumerate(LABELS)}
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for p, a in zip(predicted, actual):
        confusion[index[a], index[p]] += 1
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(axis=0), out=np.zeros_like(tp), where=confusion.sum(axis=0) > 0)
    recall = np.divide(tp, confusion.sum(axis=1), out=np.zeros_like(tp), where=confusion.sum(axis=1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    return {"n": len(actual), "accuracy": float(tp.sum() / max(len(actual), 1)), "macro_f1": float(f1.mean()),
            "labels": list(LABELS), "confusion": confusion.tolist()}


def sign_agreement(model_scores: list[float], annotated: list[float]) -> dict:
    """Share of texts whose score has the annotated sign (texts annotated 0 are left out),
    beside always answering the majority sign."""
    s, a = np.sign(model_scores), np.sign(annotated)
    keep = a != 0
    majority = max((a[keep] > 0).mean(), (a[keep] < 0).mean()) if keep.any() else None
    return {"n": int(keep.sum()), "sign_accuracy": float((s[keep] == a[keep]).mean()) if keep.any() else None,
            "majority_sign_baseline": None if majority is None else float(majority)}


def evaluate(model: SentimentModel, data_dir: Path, batch_size: int = 32) -> dict:
    def score(texts: list[str]):
        out = []
        for i in range(0, len(texts), batch_size):
            out.extend(model.score(texts[i:i + batch_size]))
        return out

    results = {"model": model.model_id, "version": model.version, "phrasebank": {}}
    for level in AGREEMENT_LEVELS:
        texts, labels = load_phrasebank(data_dir, level)
        results["phrasebank"][level] = classification_scores([s.label for s in score(texts)], labels)
        counts = {label: labels.count(label) for label in LABELS}
        results["phrasebank"][level]["majority_class_baseline"] = max(counts.values()) / len(labels)
    texts, annotated = load_fiqa_headlines(data_dir)
    results["fiqa_headlines"] = sign_agreement([s.score for s in score(texts)], annotated)
    return results
