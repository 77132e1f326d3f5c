import pytest

from models.sentiment import LABELS, SentimentModel, label_columns


def test_scores_have_the_fixed_schema(tiny_bert_dir):
    model = SentimentModel(str(tiny_bert_dir), prefer_gpu=False)
    scores = model.score(["the stock rose", "shares fell after a lawsuit", "earnings"])
    assert len(scores) == 3
    for s in scores:
        assert set(s.probabilities) == set(LABELS)
        assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert s.label == max(s.probabilities, key=s.probabilities.get)
        assert s.confidence == pytest.approx(s.probabilities[s.label])
        assert s.score == pytest.approx(s.probabilities["positive"] - s.probabilities["negative"])


def test_long_text_is_truncated_to_the_model_maximum(tiny_bert_dir):
    model = SentimentModel(str(tiny_bert_dir), prefer_gpu=False)
    assert model.max_length == 16  # max_position_embeddings of the tiny model
    (score,) = model.score(["the stock rose " * 500])
    assert sum(score.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_batch_scores_equal_single_scores(tiny_bert_dir):
    model = SentimentModel(str(tiny_bert_dir), prefer_gpu=False)
    texts = ["the stock rose", "a record quarter of growth for the company"]
    batched = model.score(texts)
    for text, b in zip(texts, batched):
        (single,) = model.score([text])
        assert single.score == pytest.approx(b.score, abs=1e-5)


def test_label_order_comes_from_the_checkpoint():
    # A checkpoint that orders its labels differently maps to the same schema.
    assert label_columns({0: "Neutral", 1: "Positive", 2: "Negative"}) == [1, 2, 0]
    with pytest.raises(ValueError, match="lack"):
        label_columns({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_missing_model_fails_fast_offline(tmp_path):
    with pytest.raises(OSError):
        SentimentModel(str(tmp_path / "no-such-model"), prefer_gpu=False)
