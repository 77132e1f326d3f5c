"""Merge the branch answers into one trading decision (a pure function, no I/O).

    price score     = P(up) - P(down)                       in [-1, 1]
    sentiment score = mean over texts of P(pos) - P(neg)    in [-1, 1]
    combined        = sum(w_b * score_b) / sum(w_b)  over the branches that answered

The decision is BUY when combined >= threshold, SELL when <= -threshold, else HOLD; a
branch that is missing (degraded, or not asked) drops out of both sums, so weights are
renormalised over what arrived. With no directional branch the decision is HOLD at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field


class MergeConfig(BaseModel):
    price_weight: float = Field(0.6, ge=0)
    sentiment_weight: float = Field(0.4, ge=0)
    threshold: float = Field(0.2, gt=0, le=1, description="|combined score| needed to BUY or SELL")


@dataclass(frozen=True)
class MergedSignal:
    decision: str
    score: float
    confidence: float


def price_score(probabilities: dict[str, float]) -> float:
    return probabilities["up"] - probabilities["down"]


def merge_signal(price: float | None, sentiment: float | None, config: MergeConfig) -> MergedSignal:
    parts = [(s, w) for s, w in ((price, config.price_weight), (sentiment, config.sentiment_weight))
             if s is not None and w > 0]
    total = sum(w for _, w in parts)
    score = sum(s * w for s, w in parts) / total if total else 0.0
    score = max(-1.0, min(1.0, score))
    if score >= config.threshold:
        decision = "BUY"
    elif score <= -config.threshold:
        decision = "SELL"
    else:
        decision = "HOLD"
    return MergedSignal(decision=decision, score=score, confidence=abs(score))
