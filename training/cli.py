"""`investiq` command line: one subcommand per lifecycle stage."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import fields

from training.train import TrainConfig


def _add_train_config(parser: argparse.ArgumentParser) -> None:
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, type=type(f.default), default=f.default, help=f"default {f.default}")


def cmd_train(args: argparse.Namespace) -> None:
    from training.data import load_bars_csv, regular_session
    from training.train import train

    frame = load_bars_csv(args.bars)
    if args.session == "regular":
        frame = regular_session(frame)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "extra"})
    metrics = train(frame, config, args.out, version=args.version)
    summary = {"out": args.out, "best_epoch": metrics["best_epoch"],
               "validation": metrics["validation"], "test": metrics["test"]}
    print(json.dumps(summary, indent=2))


def cmd_request(args: argparse.Namespace) -> None:
    """Print a /v1/signal (or /v1/price/predict) body built from real bars, for curl."""
    body: dict = {"symbol": args.symbol}
    if args.bars:
        from training.data import load_bars_csv

        frame = load_bars_csv(args.bars).iloc[-args.last:]
        body["bars"] = {"timestamps": [t.isoformat() for t in frame.index],
                        **{c: frame[c].tolist() for c in frame.columns}}
    if args.news:
        body["news"] = args.news
    if args.outcome:
        body["outcomes"] = [dict(zip(("strategy", "outcome"), o.rsplit(":", 1))) for o in args.outcome]
    print(json.dumps(body))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investiq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a price-direction model from a bars CSV into a model directory")
    train.add_argument("--bars", required=True, help="CSV of OHLCV bars (daily, intraday or generic layout)")
    train.add_argument("--out", required=True, help="model directory to write (the price deployment's model_dir)")
    train.add_argument("--session", choices=["regular", "all"], default="all",
                       help="regular: keep 09:30-15:55 US/Eastern weekday bars (intraday data)")
    train.add_argument("--version", default=None, help="version label; default: UTC time of training")
    _add_train_config(train)
    train.set_defaults(func=cmd_train)

    request = sub.add_parser("request", help="print a JSON request body built from a bars CSV (for curl)")
    request.add_argument("--symbol", required=True)
    request.add_argument("--bars", help="CSV of OHLCV bars; the last --last bars are sent")
    request.add_argument("--last", type=int, default=513, help="bars to send (default 513: context 512 + 1)")
    request.add_argument("--news", action="append", help="a news text; repeat for more")
    request.add_argument("--outcome", action="append", help="STRATEGY:win or STRATEGY:loss; repeat for more")
    request.set_defaults(func=cmd_request)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
