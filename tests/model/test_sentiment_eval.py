import pytest

from models.sentiment import SentimentModel
from tests.support import write_news_layout
from training.data import shared_data_dir
from training.sentiment_eval import (
    classification_scores, evaluate, load_fiqa_headlines, load_phrasebank, sign_agreement,
)

SHARED = shared_data_dir()


def test_classification_scores_by_hand():
    scores = classification_scores(["positive", "negative", "neutral", "positive"],
                                   ["positive", "negative", "positive", "neutral"])
    assert scores["accuracy"] == 0.5
    # positive: P = 1/2, R = 1/2; negative: 1, 1; neutral: 0, 0 -> macro-F1 = (0.5 + 1 + 0) / 3
    assert scores["macro_f1"] == pytest.approx(0.5)
    assert scores["confusion"] == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]


def test_sign_agreement_leaves_out_neutral_annotations():
    result = sign_agreement([0.3, -0.2, 0.1, 0.5], [0.4, 0.1, 0.0, 0.2])
    assert result == {"n": 3, "sign_accuracy": pytest.approx(2 / 3), "majority_sign_baseline": 1.0}


def test_evaluate_runs_on_files_in_the_shared_layout(tiny_bert_dir, tmp_path):
    write_news_layout(tmp_path, ["the profit rose .@positive", "the loss widened .@negative",
                                 "the meeting is on monday .@neutral"], {"shares rose": 0.5})
    result = evaluate(SentimentModel(str(tiny_bert_dir), prefer_gpu=False), tmp_path)
    assert result["phrasebank"]["AllAgree"]["n"] == 3
    assert result["fiqa_headlines"]["n"] == 2


@pytest.mark.skipif(not (SHARED / "news").is_dir(), reason=f"shared data not found at {SHARED}")
def test_the_shared_sets_have_the_sizes_the_manifest_gives():
    sizes = {level: len(load_phrasebank(SHARED, level)[0]) for level in ("AllAgree", "75Agree", "66Agree", "50Agree")}
    assert sizes == {"AllAgree": 2264, "75Agree": 3453, "66Agree": 4217, "50Agree": 4846}
    texts, scores = load_fiqa_headlines(SHARED)
    assert len(texts) == 436 and all(-1 <= s <= 1 for s in scores)
