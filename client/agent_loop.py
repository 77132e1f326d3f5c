"""A scripted agent loop against a running graph: signal → act → outcome → settle → evaluate.

It walks forward through a bars CSV as if each bar were now: asks for a signal on the bars so
far, "trades" BUY/SELL decisions for the model's horizon, reports each trade's win or loss as
a strategy outcome once its horizon has passed, then sends the later bars so the logged price
predictions are settled, and prints the evaluation. Shadow signals are logged but not traded.

    python -m client.agent_loop --url http://127.0.0.1:8000 \\
        --bars ../shared/data/stocks/intraday_5min/SPY_5min.csv --steps 50
"""

from __future__ import annotations

import argparse
import json
import math
import uuid
from collections import Counter

import pandas as pd

from client import InvestIQClient
from models.session import in_regular_session, market_time


def market_bars(frame: pd.DataFrame, session: str) -> pd.DataFrame:
    """The bars a model trained on `session` reads, with their zone. A naive index is exchange
    time (US/Eastern), as in the shared CSVs and training; the server reads times as sent."""
    frame = frame.set_axis(market_time(frame.index))
    frame = frame[frame.index.notna()]
    return frame[in_regular_session(frame.index)] if session == "regular" else frame


def bars_body(frame: pd.DataFrame) -> dict:
    """The API's columns; timestamps keep their zone (see market_bars)."""
    return {"timestamps": [t.isoformat() for t in frame.index],
            **{c: frame[c].astype(float).tolist() for c in ("open", "high", "low", "close", "volume")}}


def run_agent_loop(api: InvestIQClient, frame: pd.DataFrame, symbol: str, bars_per_request: int, steps: int,
                   news: list[str] | None = None, session: str = "regular") -> dict:
    """Returns what happened: decisions, outcomes sent, predictions settled, the evaluation.
    `session`: the one the served model was trained on; only its bars are sent."""
    frame = market_bars(frame, session)
    first = len(frame) - steps - 64  # leave room for the horizon after the last step
    if first < bars_per_request:
        raise ValueError(f"{len(frame)} bars are too few for {steps} steps of {bars_per_request} bars")
    open_trades: list[tuple[int, int, str]] = []  # (entry bar, exit bar, decision)
    decisions, outcomes_sent, horizon = Counter(), 0, None
    run = uuid.uuid4().hex[:12]  # ids unique to this run: a rerun never collides with an earlier one
    for end in range(first, first + steps):
        due = [t for t in open_trades if t[1] < end]
        open_trades = [t for t in open_trades if t[1] >= end]
        outcomes = [{"strategy": f"investiq_{d.lower()}", "outcome": _outcome(frame, entry, exit_, d),
                     "timestamp": frame.index[exit_].isoformat(), "id": f"trade-{run}-{entry}"}
                    for entry, exit_, d in due]
        signal = api.signal({"symbol": symbol, "news": news or [], "outcomes": outcomes,
                             "bars": bars_body(frame.iloc[end - bars_per_request:end]),
                             "request_id": f"agent-loop-{run}-{end}"})
        outcomes_sent += signal.outcomes_recorded
        decisions[signal.decision if signal.actionable else "shadow"] += 1
        if signal.price is not None:
            horizon = signal.price.horizon
        if signal.actionable and signal.decision != "HOLD" and horizon:
            open_trades.append((end - 1, end - 1 + horizon, signal.decision))
    settle_end = min(len(frame), first + steps + (horizon or 0))
    settled = api.record_realised(symbol, bars_body(frame.iloc[first - 1:settle_end])).settled
    evaluation = api.evaluate(symbol, days=1)
    return {"signals": steps, "decisions": dict(decisions), "outcomes_recorded": outcomes_sent,
            "predictions_settled": settled, "evaluation": evaluation.model_dump(mode="json")}


def _outcome(frame: pd.DataFrame, entry: int, exit_: int, decision: str) -> str:
    move = math.log(frame["close"].iloc[exit_] / frame["close"].iloc[entry])
    return "win" if (move > 0) == (decision == "BUY") and move != 0 else "loss"


def main(argv: list[str] | None = None) -> None:
    from training.data import load_bars_csv

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--bars", required=True, help="CSV of OHLCV bars (daily, intraday or generic layout)")
    parser.add_argument("--symbol", default="SPY")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--bars-per-request", type=int, default=513, help="context + 1 for the default model")
    parser.add_argument("--news", action="append", help="a headline sent with every signal; repeat for more")
    parser.add_argument("--session", choices=["regular", "all"], default="regular",
                        help="the session the served model was trained on (`investiq models` shows it)")
    args = parser.parse_args(argv)
    with InvestIQClient(args.url, timeout=30) as api:
        report = run_agent_loop(api, load_bars_csv(args.bars), args.symbol, args.bars_per_request, args.steps,
                                args.news, args.session)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
