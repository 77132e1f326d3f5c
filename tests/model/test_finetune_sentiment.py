"""Fine-tuning a checkpoint on labelled news: a stratified split, a model the sentiment
deployment loads, and held-out scores beside the TF-IDF baseline."""

from collections import Counter

import pytest

from models.sentiment import SentimentModel
from training.finetune_sentiment import FinetuneConfig, finetune, read_labelled_csv, stratified_split

WORDS = {"positive": ["profit rose", "shares rose", "earnings beat", "stock rose"],
         "negative": ["profit fell", "shares fell", "earnings missed", "stock fell"],
         "neutral": ["company quarter", "stock company", "company in", "a quarter"]}


def labelled(n_per_label=30):
    texts, labels = [], []
    for label, phrases in WORDS.items():
        for i in range(n_per_label):
            texts.append(f"the {phrases[i % len(phrases)]}")
            labels.append(label)
    return texts, labels


def test_the_split_keeps_the_class_mix():
    texts, labels = labelled()
    labels = labels[:70]  # 30 positive, 30 negative, 10 neutral
    train_texts, test_texts, train_labels, test_labels = stratified_split(texts[:70], labels, 0.2, seed=0)
    assert Counter(test_labels) == {"positive": 6, "negative": 6, "neutral": 2}
    assert not set(test_texts) - set(texts[:70]) and len(train_texts) == 56


def test_a_csv_with_unknown_labels_is_refused(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text("text,label\nshares rose,bullish\n")
    with pytest.raises(ValueError, match="bullish"):
        read_labelled_csv(path)
    path.write_text("headline,sentiment\nshares rose,positive\n")
    with pytest.raises(ValueError, match="`text` and `label`"):
        read_labelled_csv(path)


def test_finetuning_learns_and_saves_a_loadable_model(tiny_bert_dir, tmp_path):
    path = tmp_path / "news.csv"
    texts, labels = labelled()
    path.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    texts, labels = read_labelled_csv(path)
    result = finetune(str(tiny_bert_dir), texts, labels, tmp_path / "tuned",
                      FinetuneConfig(epochs=20, batch_size=8, learning_rate=3e-3))
    assert result["test"] == 18 and result["held_out"]["n"] == 18
    # A 16-wide BERT from random weights often separates two of the three classes and then
    # plateaus; chance is 1/3, and labels fed in the wrong order would stay near it.
    assert result["held_out"]["accuracy"] >= 0.6
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert SentimentModel(str(tmp_path / "tuned"), prefer_gpu=False).score(["shares rose"])[0].label in (
        "positive", "negative", "neutral")
