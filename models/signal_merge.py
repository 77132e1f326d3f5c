"""Merge the branch answers into one trading decision (a pure function, no I/O).

    price score     = (P(up) - base(up)) - (P(down) - base(down))   the forecast's `score`
    sentiment score = mean over texts of P(pos) - P(neg)            in [-1, 1]
    combined        = sum(w_b * score_b) / sum(w_b)  over the branches that answered, clipped to [-1, 1]

The price score is the edge over the training base rates (models.direction.edge_score), not
P(up) - P(down): on drifting training data the base rates are lopsided, and the raw
difference would carry that drift into every signal (SPY 5-minute: about +0.13 on its test windows whatever the
bars say), so BUY would need less news than SELL. With the edge, a price model that has
learnt nothing but its prior adds 0, and the merge is symmetric in up and down.

The decision is BUY when combined >= threshold, SELL when <= -threshold, else HOLD; a
branch that is missing (degraded, or not asked) drops out of both sums, so weights are
renormalised over what arrived. With no directional branch the decision is HOLD at 0.

The threshold is, unless the operator sets one, the served price model's own: training
chose it on the model's validation windows as the edge score that made the most money net of
costs among those whose P&L there was significantly positive (training.backtest.validated_signal),
and the model-quality report scores that rule on walk-forward test windows. Where there is
none (no usable price answer, or no threshold paid significantly on validation) the decision
is HOLD and says why. The weights are a
stated prior, not an estimate: no news aligned with bars was available to fit them, so the
threshold is validated for the price score alone and the mix with sentiment is not scored.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field



class MergeConfig(BaseModel):
    price_weight: float = Field(0.6, ge=0)
    sentiment_weight: float = Field(0.4, ge=0)
    threshold: float | None = Field(
        None, gt=0, le=1, description="|combined score| needed to BUY or SELL; unset: the served price model's "
                                      "threshold, chosen on its validation windows")


@dataclass(frozen=True)
class MergedSignal:
    decision: str
    score: float
    confidence: float
    threshold: float | None  # the one applied; None: no threshold, so HOLD
    untradable_because: str | None  # why there was no threshold


def merge_signal(price: float | None, sentiment: float | None, config: MergeConfig,
                 price_threshold: float | None = None) -> MergedSignal:
    """`price`: the price score (edge over the model's reference), `sentiment`: the mean
    sentiment score; None for a branch that did not answer, or answered on inputs unlike its
    training data. `price_threshold`: the price model's validated threshold (None: it has none)."""
    parts = [(s, w) for s, w in ((price, config.price_weight), (sentiment, config.sentiment_weight))
             if s is not None and w > 0]
    total = sum(w for _, w in parts)
    score = sum(s * w for s, w in parts) / total if total else 0.0
    score = max(-1.0, min(1.0, score))
    threshold, why = config.threshold, None
    if threshold is None:
        threshold = price_threshold if price is not None else None
        if price is None:
            why = "no signal threshold: no usable price answer and ingress.merge.threshold is unset"
        elif threshold is None:
            why = "no signal threshold: no threshold paid significantly on the price model's validation windows"
    if threshold is not None and score >= threshold:
        decision = "BUY"
    elif threshold is not None and score <= -threshold:
        decision = "SELL"
    else:
        decision = "HOLD"
    return MergedSignal(decision=decision, score=score, confidence=abs(score), threshold=threshold,
                        untradable_because=why)
