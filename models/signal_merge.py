"""Merge the branch answers into one trading decision (a pure function, no I/O).

    price score     = (P(up) - ref(up)) - (P(down) - ref(down))    the forecast's `score`
    sentiment score = mean over texts of P(pos) - P(neg)             in [-1, 1]
    combined        = sum(w_b * score_b) / sum(w_b)  over the branches that answered, clipped to [-1, 1]

The price score is the edge over the model's reference, its mean forecast on its validation
windows (models.direction.edge_score), not P(up) - P(down): on drifting training data the
raw difference carries the drift into every signal (SPY 5-minute: about +0.13 on its test
windows whatever the bars say), so BUY would need less news than SELL. With the edge, a
price model that says the same whatever the bars adds 0, and the merge is symmetric in up
and down.

Which score decides depends on where the threshold comes from:
- unset (`ingress.merge.threshold`), the served price model's own: training chose it on the
  model's validation windows as the edge score that made the most money net of costs among
  those whose P&L there was significantly positive (training.backtest.validated_signal), and
  the model-quality report scores that rule on walk-forward test windows. It was validated
  for the price score alone, so the price score alone decides; sentiment is reported, not
  mixed in (its scale is not the price edge's, and no news aligned with bars was available
  to validate a mix). Where there is no threshold (no usable price answer, or the model has
  none) the decision is HOLD and says why.
- set by the operator: the combined score decides, with the weights as a stated prior; a
  branch that is missing drops out of both sums, so weights are renormalised over what
  arrived, and with no directional branch the decision is HOLD at 0.
BUY at or above the threshold, SELL at or below minus it, else HOLD.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field



class MergeConfig(BaseModel):
    price_weight: float = Field(0.6, ge=0)
    sentiment_weight: float = Field(0.4, ge=0)
    threshold: float | None = Field(
        None, gt=0, le=1, description="|combined score| needed to BUY or SELL; unset: the served price model's "
                                      "threshold, chosen on its validation windows, on the price score alone")


@dataclass(frozen=True)
class MergedSignal:
    decision: str
    score: float
    confidence: float
    threshold: float | None  # the one applied; None: no threshold, so HOLD
    untradable_because: str | None  # why there was no threshold


def merge_signal(price: float | None, sentiment: float | None, config: MergeConfig,
                 price_threshold: float | None = None, no_threshold_because: str | None = None) -> MergedSignal:
    """`price`: the price score (edge over the model's reference), `sentiment`: the mean
    sentiment score; None for a branch that did not answer, or answered on inputs unlike its
    training data. `price_threshold`: the price model's validated threshold, and where it has
    none, `no_threshold_because` says why."""
    if config.threshold is None:  # the price model's threshold: the price score alone decides
        score, threshold, why = price or 0.0, price_threshold if price is not None else None, None
        if price is None:
            why = "no signal threshold: no usable price answer and ingress.merge.threshold is unset"
        elif threshold is None:
            why = f"no signal threshold: {no_threshold_because or 'the price model has none'}"
    else:
        parts = [(s, w) for s, w in ((price, config.price_weight), (sentiment, config.sentiment_weight))
                 if s is not None and w > 0]
        total = sum(w for _, w in parts)
        score, threshold, why = sum(s * w for s, w in parts) / total if total else 0.0, config.threshold, None
    score = max(-1.0, min(1.0, score))
    if threshold is not None and score >= threshold:
        decision = "BUY"
    elif threshold is not None and score <= -threshold:
        decision = "SELL"
    else:
        decision = "HOLD"
    return MergedSignal(decision=decision, score=score, confidence=abs(score), threshold=threshold,
                        untradable_because=why)
