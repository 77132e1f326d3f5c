"""`investiq` command line: one subcommand per lifecycle stage."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import fields
from pathlib import Path

from models import DEFAULT_SENTIMENT_MODEL
from models.registry import DEFAULT_PRICE_MODEL
from training.promotion import PromotionFailed
from training.train import TrainConfig


def _add_train_config(parser: argparse.ArgumentParser) -> None:
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, type=type(f.default), default=f.default, help=f"default {f.default}")


def _checkpoint_every_epoch(directory: Path):
    """A train() report hook that keeps the latest epoch's checkpoint in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)

    def report(record, write_checkpoint):
        write_checkpoint(directory)

    return report


def _bars(args: argparse.Namespace):
    from training.data import load_bars

    return load_bars(csv=args.bars, symbol=args.symbol, interval=args.interval, period=args.period,
                     cache_dir=args.cache_dir, session=args.session)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "extra"})


def cmd_train(args: argparse.Namespace) -> None:
    from models.registry import new_version
    from training.retrain import train_tracked
    from training.tracking import resolve_tracking_uri

    frame, config = _bars(args), _train_config(args)
    version = args.version or new_version()
    report = _checkpoint_every_epoch(Path(args.checkpoint_dir)) if args.checkpoint_dir else None
    model, metrics, run_id = train_tracked(frame, config, version, args.session, resolve_tracking_uri(args.tracking_uri),
                                           report=report, resume_from=args.resume)
    summary = {"version": version, "best_epoch": metrics["best_epoch"], "validation": metrics["validation"],
               "test": metrics["test"], "mlflow_run_id": run_id}
    if args.registry:
        summary["decision"] = _publish(args, model, frame, config, version, run_id)
    else:
        model.save(args.out)
    print(json.dumps(summary, indent=2, default=str))


def _publish(args: argparse.Namespace, model, frame, config: TrainConfig, version: str, run_id: str | None) -> dict:
    """Into the registry through the promotion gate; promoted only with --promote and a pass."""
    from models.registry import ModelRegistry
    from training.retrain import consider
    from training.tracking import resolve_tracking_uri

    return consider(model, ModelRegistry(args.registry), frame, config, version, promote=args.promote,
                    margin=args.margin, alpha=args.alpha, run_id=run_id,
                    tracking_uri=resolve_tracking_uri(args.tracking_uri), serve_address=args.serve_address,
                    app=args.app)


def cmd_train_volatility(args: argparse.Namespace) -> None:
    from models.registry import ModelRegistry, new_version
    from training.tracking import resolve_tracking_uri
    from training.volatility_gate import consider_volatility

    version, run_id, sweep_dir = args.version or new_version(), None, None
    horizons = tuple(args.horizons) if args.horizons else None
    frame = _bars(args)
    if args.forecaster == "har":
        from training.train_har import beaten_by, train_har

        model, metrics = train_har(frame, args.session, horizons, version=version)
        beaten = {h: names for h, names in beaten_by(metrics).items() if names}
        for h, names in beaten.items():
            logging.getLogger(__name__).warning(
                "on these bars %s beat HAR at %s on both validation and test (Diebold-Mariano p < 0.05): the graph "
                "serves HAR or PatchTST only, so weigh that before you promote", ", ".join(names), h)
        summary = {"forecaster": "har", "return_std_per_volatility": model.metadata.z_std, "beaten_by": beaten}
    else:
        from training.train_volatility import VolatilityTrainConfig, train_volatility

        config = VolatilityTrainConfig(horizons=horizons, context_length=args.context_length,
                                       max_epochs=args.max_epochs, sample_step=args.sample_step, seed=args.seed)
        if args.sweep:
            model, run_id, sweep_dir = _volatility_sweep(args, frame, config)
            metrics = model.metadata.extra["metrics"]
        else:
            model, metrics = train_volatility(frame, config, version=version, session=args.session)
        summary = {"forecaster": "patchtst", "best_epoch": metrics["best_epoch"], "nu": metrics["nu"]}
    summary = {"version": version, "horizons": model.metadata.horizons, **summary,
               **{part: _qlike_table(metrics[part]) for part in ("validation", "test")}}
    if run_id:
        summary["mlflow_run_id"] = run_id
    if args.registry:
        summary["decision"] = consider_volatility(model, ModelRegistry(args.registry), version, args.promote,
                                                  args.serve_address, args.app, run_id,
                                                  resolve_tracking_uri(args.tracking_uri))
    else:
        model.save(args.out)
    if sweep_dir:
        shutil.rmtree(sweep_dir, ignore_errors=True)  # best_of's local copy of the checkpoint
    print(json.dumps(summary, indent=2, default=str))


def _volatility_sweep(args: argparse.Namespace, frame, config):
    """A Tune sweep around `config`: (the best trial's model, its MLflow run, the folder to remove)."""
    from models.volatility_model import VolatilityModel
    from training.tracking import resolve_tracking_uri
    from training.tune import best_of, best_run_id, run_sweep

    uri = resolve_tracking_uri(args.tracking_uri)
    results = run_sweep(frame, config, args.sweep, args.storage_path, name=args.name,
                        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                        max_concurrent=args.max_concurrent, resume=args.resume, tracking_uri=uri,
                        session=args.session, ray_address=args.ray_address, kind="volatility")
    _, model_dir = best_of(results, "volatility")
    return VolatilityModel.load(model_dir, prefer_gpu=False), best_run_id(results, uri, "volatility"), model_dir.parent


def _qlike_table(part: dict) -> dict:
    """Per horizon, each forecaster's mean QLIKE on these windows (the full figures are in the
    model's metadata); None for a baseline that could not forecast every window."""
    table = {}
    for horizon, scores in part.items():
        if not isinstance(scores, dict):  # PatchTST's figures also count their windows
            continue
        forecasters = scores.get("forecasters", scores)  # HAR's figures nest them; PatchTST's do not
        table[horizon] = {name: None if s is None else round(s["qlike"], 4) for name, s in forecasters.items()
                          if s is None or (isinstance(s, dict) and "qlike" in s)}
    return table


def cmd_train_default(args: argparse.Namespace) -> None:
    """The embedded default models and their cards, from the shared bars (training.default_model)."""
    from training.data import shared_data_dir
    from training.default_model import train_default_price_model, train_default_volatility_model

    data_dir = Path(args.data) if args.data else shared_data_dir()
    if not data_dir.is_dir():
        raise SystemExit(f"reference data not found at {data_dir}; put ../shared/data beside the project "
                         "or set INVESTIQ_SHARED_DATA")
    made = {}
    if args.model in ("price", "both"):
        made["price"] = train_default_price_model(data_dir, Path(args.out_dir) / "price")
    if args.model in ("volatility", "both"):
        made["volatility"] = train_default_volatility_model(data_dir, Path(args.out_dir) / "volatility")
    print(json.dumps(made, indent=2, default=str))


def cmd_data(args: argparse.Namespace) -> None:
    frame = _bars(args)
    print(json.dumps({"bars": len(frame), "first": str(frame.index[0]), "last": str(frame.index[-1]),
                      "columns": list(frame.columns)}, indent=2))


def cmd_tune(args: argparse.Namespace) -> None:
    from models.price_direction import PriceDirectionModel
    from models.registry import new_version
    from training.tracking import resolve_tracking_uri
    from training.tune import best_of, best_run_id, run_sweep

    frame, uri = _bars(args), resolve_tracking_uri(args.tracking_uri)
    results = run_sweep(frame, _train_config(args), args.num_samples, args.storage_path, name=args.name,
                        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                        max_concurrent=args.max_concurrent, resume=args.resume, tracking_uri=uri, session=args.session,
                        ray_address=args.ray_address)
    (config, model_dir), run_id = best_of(results), best_run_id(results, uri)
    summary = {"best_config": config.__dict__, "experiment": str(Path(args.storage_path) / args.name),
               "mlflow_run_id": run_id}
    if args.registry:
        model = PriceDirectionModel.load(model_dir, prefer_gpu=False)
        summary["decision"] = _publish(args, model, frame, config, args.version or new_version(), run_id)
    shutil.rmtree(model_dir.parent, ignore_errors=True)  # best_of's local copy of the checkpoint
    print(json.dumps(summary, indent=2, default=str))


def cmd_retrain(args: argparse.Namespace) -> None:
    from training.retrain import retrain
    from training.tracking import resolve_tracking_uri

    config = _train_config(args) if args.config_from_flags else None
    decision = retrain(_bars(args), args.registry, config=config, margin=args.margin, alpha=args.alpha,
                       sweep_samples=args.sweep, storage_path=args.storage_path,
                       serve_address=args.serve_address, app=args.app, session=args.session,
                       tracking_uri=resolve_tracking_uri(args.tracking_uri), ray_address=args.ray_address)
    print(json.dumps(decision, indent=2, default=str))


def cmd_models(args: argparse.Namespace) -> None:
    from models.registry import ModelRegistry

    registry = ModelRegistry(args.registry)
    production = registry.production()
    for version in registry.versions():
        meta = registry.metadata(version)
        line = volatility_version_line(version, meta) if "horizons" in meta else version_line(version, meta)
        print(("* " if version == production else "  ") + line)
    if production is None:
        print("(no production version)")


def _threshold_wording(meta: dict) -> str:
    """What the merge will trade on with this version (see models.signal_merge)."""
    if meta.get("signal_threshold") is not None:
        return f"{meta['signal_threshold']:g}"
    return "none (HOLD)" if meta.get("edge_reference") is not None else "not validated (HOLD)"


def version_line(version: str, meta: dict) -> str:
    """One registry version: labelling, bars, test scores, what it trades on, the gate's
    decision, its MLflow run."""
    extra = meta["extra"]
    test = extra.get("metrics", {}).get("test", {})
    interval = meta.get("bar_interval_s")
    line = (f"{version}  horizon={meta['horizon']}  flat_band={meta['flat_band_bp']}bp"
            f"/{meta.get('flat_band_vol', 0.0)}vol  bars={'?' if interval is None else f'{interval:g}s'}"
            f"/{meta.get('session') or '?'}  test_log_loss={test.get('log_loss', float('nan')):.4f}"
            f"  base_rate={test.get('base_rate_log_loss', float('nan')):.4f}"
            f"  bars_until={extra.get('data_window', {}).get('last_bar')}"
            f"  signal_threshold={_threshold_wording(meta)}")
    gate = extra.get("gate")
    if gate:
        figures = gate["figures"]
        tests = [f"vs {other.replace('_', ' ')} {test['mean_difference']:+.4f} nats (lower {test['lower_bound']:+.4f})"
                 for other in ("production", "base_rate") if (test := figures.get(f"vs_{other}"))]
        verdict = "promoted" if gate["promoted"] else "passed" if gate["passed"] else "refused"
        line += f"  gate={verdict}" + (f" [{'; '.join(tests)}; margin {figures['margin']:g}]" if tests
                                       else f" [{gate['reasons'][0]}]")
    if extra.get("mlflow_run_id"):
        line += f"  mlflow_run={extra['mlflow_run_id']}"
    return line


def volatility_version_line(version: str, meta: dict) -> str:
    """One volatility registry version: forecaster, horizons, bars, test QLIKE beside HAR's, the gate."""
    forecaster = meta.get("forecaster", "patchtst")
    interval = meta.get("bar_interval_s")
    line = (f"{version}  forecaster={forecaster}  horizons={meta['horizons']}"
            f"  bars={'?' if interval is None else f'{interval:g}s'}/{meta.get('session') or '?'}"
            f"  bars_until={meta['extra'].get('data_window', {}).get('last_bar')}")
    gate = meta["extra"].get("gate")
    if gate:
        figures = "; ".join(f"{h} {q['candidate']:.3f} vs HAR {q['har']:.3f}" if q["har"] is not None
                            else f"{h} {q['candidate']:.3f} vs HAR –" for h, q in gate["figures"]["test_qlike"].items())
        verdict = "promoted" if gate["promoted"] else "passed" if gate["passed"] else "refused"
        line += f"  test_qlike=[{figures}]  gate={verdict}"
    return line


def cmd_promote(args: argparse.Namespace) -> None:
    from models.registry import ModelRegistry
    from training.promotion import promote_and_follow

    promote_and_follow(ModelRegistry(args.registry), args.version, args.serve_address, args.app,
                       reason="investiq promote")
    print(f"production is now {args.version}{_graph_note(args)}")


def cmd_rollback(args: argparse.Namespace) -> None:
    from models.registry import ModelRegistry
    from training.promotion import rollback_and_follow

    version = rollback_and_follow(ModelRegistry(args.registry), args.serve_address, args.app)
    print(f"production is back to {version}{_graph_note(args)}")


def _graph_note(args: argparse.Namespace) -> str:
    if args.serve_address:
        return " and the graph serves it"
    return (" (a running graph was not told, and its replicas load it only when they restart: pass "
            "--serve-address to move the graph too)")


def cmd_request(args: argparse.Namespace) -> None:
    """Print a /v1/signal (or /v1/price/predict) body built from real bars, for curl."""
    body: dict = {"symbol": args.symbol}
    if args.bars:
        from client.agent_loop import bars_body, market_bars
        from training.data import load_bars_csv

        body["bars"] = bars_body(market_bars(load_bars_csv(args.bars), args.session).iloc[-args.last:])
    if args.news:
        body["news"] = args.news
    if args.outcome:
        body["outcomes"] = [dict(zip(("strategy", "outcome"), o.rsplit(":", 1))) for o in args.outcome]
    print(json.dumps(body))


def cmd_evaluate_sentiment(args: argparse.Namespace) -> None:
    """Financial PhraseBank (each agreement level) and FiQA headlines, for any model."""
    from models.sentiment import SentimentModel
    from training.data import shared_data_dir
    from training.sentiment_eval import evaluate

    result = evaluate(SentimentModel(args.model), Path(args.data) if args.data else shared_data_dir())
    print(f"{result['model']}@{result['version']}")
    for level, r in result["phrasebank"].items():
        print(f"  PhraseBank {level:9s} n={r['n']:5d}  accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}"
              f"  (majority class {r['majority_class_baseline']:.3f})")
    f = result["fiqa_headlines"]
    print(f"  FiQA headlines   n={f['n']:5d}  sign accuracy {f['sign_accuracy']:.3f}"
          f"  (majority sign {f['majority_sign_baseline']:.3f})")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


def cmd_evaluate_bandit(args: argparse.Namespace) -> None:
    """Cumulative regret of each policy on simulated strategies, mean over seeds."""
    from training.report import run_bandit

    result = run_bandit(args.steps, args.seeds)
    for scenario, figures in result["scenarios"].items():
        for name, policy in figures["policies"].items():
            print(f"{scenario:15s} {name:25s} regret after {args.steps} steps: "
                  f"{policy['final_mean']:7.1f} ± {policy['final_ci95']:.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


def cmd_finetune_sentiment(args: argparse.Namespace) -> None:
    """Fine-tune a checkpoint on labelled texts; print held-out scores beside TF-IDF's."""
    from training.finetune_sentiment import FinetuneConfig, finetune, read_labelled_csv
    from training.data import shared_data_dir
    from training.sentiment_eval import load_phrasebank

    if args.csv:
        texts, labels = read_labelled_csv(Path(args.csv))
    else:
        texts, labels = load_phrasebank(Path(args.data) if args.data else shared_data_dir(), args.phrasebank)
    config = FinetuneConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate)
    result = finetune(args.model, texts, labels, Path(args.out), config)
    for name in ("held_out", "tfidf_baseline"):
        print(f"{name:15s} n={result[name]['n']}  accuracy {result[name]['accuracy']:.3f}"
              f"  macro-F1 {result[name]['macro_f1']:.3f}")
    print(f"model saved to {result['out_dir']}")


def cmd_report(args: argparse.Namespace) -> None:
    """The model-quality report: every section, or those named, then REPORT.md from all saved."""
    from training.data import shared_data_dir
    from training.report import SECTIONS, build
    from training.walk_forward import SETUPS

    sections = [] if args.render_only else args.sections.split(",") if args.sections else list(SECTIONS)
    unknown = sorted(set(sections) - set(SECTIONS)) + sorted(set(args.setups.split(",") if args.setups else ()) - set(SETUPS))
    if unknown:
        raise SystemExit(f"unknown sections or setups {unknown}; sections: {list(SECTIONS)}, setups: {list(SETUPS)}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit("the report draws with matplotlib: pip install -e '.[report]'") from None
    data_dir = Path(args.data) if args.data else shared_data_dir()
    if not data_dir.is_dir():
        raise SystemExit(f"reference data not found at {data_dir}; put ../shared/data beside the project "
                         "or set INVESTIQ_SHARED_DATA")
    setups = {name: SETUPS[name] for name in args.setups.split(",")} if args.setups else None
    path = build(Path(args.out), data_dir, sections, sentiment_model=args.sentiment_model, setups=setups,
                 ett_dataset=args.ett_dataset,
                 ett_overrides={"max_epochs": args.ett_max_epochs, "lr_schedule": args.ett_lr_schedule})
    print(f"report written to {path}")


def cmd_openapi(args: argparse.Namespace) -> None:
    """The HTTP API's OpenAPI schema, as the running app serves it at /openapi.json."""
    from deployments.ingress import app

    text = json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"written to {args.out}")
    else:
        print(text, end="")


def _add_bars_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bars", help="CSV of OHLCV bars (daily, intraday or generic layout)")
    source.add_argument("--symbol", help="download bars with yfinance (cached under --cache-dir)")
    parser.add_argument("--interval", default="5m", help="yfinance interval, e.g. 5m, 1h, 1d (default 5m)")
    parser.add_argument("--period", default="60d", help="yfinance period, e.g. 60d, 2y, max (default 60d)")
    parser.add_argument("--cache-dir", default="var/bars", help="where downloaded bars are kept (default var/bars)")
    parser.add_argument("--session", choices=["regular", "all"], default="all",
                        help="regular: keep 09:30-15:55 US/Eastern weekday bars (intraday data)")


def _add_gate_and_tracking(parser: argparse.ArgumentParser) -> None:
    from training.retrain import DEFAULT_ALPHA, DEFAULT_MARGIN

    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="promotion gate: nats of mean log-loss the candidate may measure worse than production "
                             f"and still pass (default {DEFAULT_MARGIN})")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="promotion gate: level of each one-sided test that the candidate is worse "
                             f"(default {DEFAULT_ALPHA})")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default $MLFLOW_TRACKING_URI, else sqlite:///var/mlflow.db); "
                             "'none' turns tracking off")


def _add_serve_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--serve-address", default=None,
                        help="Ray dashboard of the running graph, e.g. http://127.0.0.1:8265: the Price (or, "
                             "for a volatility registry, Volatility) deployment loads the new production version in place and the command waits until "
                             "/readyz reports it; if the graph cannot take it, production stays as it was")
    parser.add_argument("--app", default="investiq", help="Serve application name (default investiq)")


def _add_sweep_settings(parser: argparse.ArgumentParser, name: str) -> None:
    """Where a sweep keeps its results and what each trial gets."""
    parser.add_argument("--storage-path", default="var/tune", help="where Tune keeps results (default var/tune)")
    parser.add_argument("--name", default=name, help=f"experiment name under the storage path (default {name})")
    parser.add_argument("--resume", action="store_true", help="continue the named sweep where it stopped")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--gpus-per-trial", type=float, default=0.5, help="fraction of a card; 0 on CPU clusters")
    parser.add_argument("--max-concurrent", type=int, default=2)
    _add_ray_address(parser)


def _add_ray_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray-address", default="auto",
                        help="Ray cluster the sweep runs on: 'auto' (default) joins the one running on this machine "
                             "(e.g. the graph's, so trials take only the GPUs it leaves free; $RAY_ADDRESS wins) "
                             "and starts a local one when there is none; 'local' always starts its own; or an "
                             "address such as 127.0.0.1:6379")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investiq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a price-direction model from bars into a model directory or registry")
    _add_bars_source(train)
    where = train.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="model directory to write (usable directly as the price deployment's model_dir)")
    where.add_argument("--registry", help="model registry to publish the new version into (through the promotion gate)")
    train.add_argument("--promote", action="store_true",
                       help="with --registry: make the new version production if it passes the promotion gate")
    train.add_argument("--version", default=None, help="version label; default: UTC time of training")
    train.add_argument("--checkpoint-dir", help="write a checkpoint here after every epoch")
    train.add_argument("--resume", help="continue from a checkpoint directory written by --checkpoint-dir")
    _add_gate_and_tracking(train)
    _add_serve_target(train)
    _add_train_config(train)
    train.set_defaults(func=cmd_train)

    vol = sub.add_parser("train-volatility", help="fit a volatility model (realised variance per horizon, return "
                                                  "quantiles) into a model directory or registry")
    _add_bars_source(vol)
    vol.add_argument("--forecaster", choices=["har", "patchtst"], default="har",
                     help="har (default: what the report finds best) or the PatchTST model")
    where = vol.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="model directory to write (usable directly as volatility.model_dir)")
    where.add_argument("--registry", help="model registry to publish into, through the gate (not worse than HAR)")
    vol.add_argument("--promote", action="store_true", help="make it production if it passes the gate")
    _add_serve_target(vol)
    vol.add_argument("--version", default=None, help="version label; default: UTC time of training")
    vol.add_argument("--horizons", type=int, nargs="+", default=None,
                     help="bars ahead; default: 12 and 78 for 5-minute bars (an hour, a session), 1 and 5 for daily")
    vol.add_argument("--context-length", type=int, default=256, help="patchtst: bars the model reads (default 256)")
    vol.add_argument("--max-epochs", type=int, default=10, help="patchtst: default 10 (early stopping on validation)")
    vol.add_argument("--sample-step", type=int, default=2, help="patchtst: use every n-th window (default 2)")
    vol.add_argument("--seed", type=int, default=0, help="patchtst: random seed")
    vol.add_argument("--sweep", type=int, default=0, metavar="N",
                     help="patchtst: a Ray Tune sweep of N trials around these settings; its best is the candidate")
    _add_sweep_settings(vol, "volatility-sweep")
    vol.add_argument("--tracking-uri", default=None,
                     help="MLflow tracking URI of the sweep's trials (default $MLFLOW_TRACKING_URI, else "
                          "sqlite:///var/mlflow.db; 'none' turns tracking off)")
    vol.set_defaults(func=cmd_train_volatility)

    default = sub.add_parser("train-default", help="train the embedded default models (served while their "
                                                   "registry has no production version) and write their model cards")
    default.add_argument("--data", help="the shared data folder (default ../shared/data or $INVESTIQ_SHARED_DATA)")
    default.add_argument("--model", choices=["price", "volatility", "both"], default="both")
    default.add_argument("--out-dir", default=str(DEFAULT_PRICE_MODEL.parent),
                         help="default: the embedded models' folder (each model in <out-dir>/<model>)")
    default.set_defaults(func=cmd_train_default)

    data = sub.add_parser("data", help="load bars (CSV, or yfinance into the local cache) and summarise them")
    _add_bars_source(data)
    data.set_defaults(func=cmd_data)

    tune_ = sub.add_parser("tune", help="Ray Tune sweep (Optuna + ASHA); the best trial can go into a registry")
    _add_bars_source(tune_)
    tune_.add_argument("--num-samples", type=int, default=16, help="trials (default 16)")
    _add_sweep_settings(tune_, "patchtst-sweep")
    tune_.add_argument("--registry", help="publish the best trial's model into this registry")
    tune_.add_argument("--promote", action="store_true",
                       help="with --registry: make it production if it passes the promotion gate")
    tune_.add_argument("--version", default=None)
    _add_gate_and_tracking(tune_)
    _add_serve_target(tune_)
    _add_train_config(tune_)
    tune_.set_defaults(func=cmd_tune)

    retrain_ = sub.add_parser("retrain", help="refresh data, train a candidate, promote it if it passes the gate")
    _add_bars_source(retrain_)
    retrain_.set_defaults(session=None)  # production's session, applied by retrain()
    retrain_.add_argument("--registry", required=True)
    retrain_.add_argument("--sweep", type=int, default=0, metavar="N",
                          help="run a short N-trial sweep instead of reusing production's configuration")
    retrain_.add_argument("--storage-path", default="var/tune")
    retrain_.add_argument("--config-from-flags", action="store_true",
                          help="train with the hyperparameter flags below instead of production's configuration "
                               "(the labelling flags must match production's)")
    _add_ray_address(retrain_)
    _add_gate_and_tracking(retrain_)
    _add_serve_target(retrain_)
    _add_train_config(retrain_)
    retrain_.set_defaults(func=cmd_retrain)

    models = sub.add_parser("models", help="list the versions in a model registry (* = production)")
    models.add_argument("--registry", required=True)
    models.set_defaults(func=cmd_models)

    for name, func, text in (("promote", cmd_promote, "make a registry version production"),
                             ("rollback", cmd_rollback, "make the previous production version production again")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--registry", required=True)
        if name == "promote":
            cmd.add_argument("--version", required=True)
        _add_serve_target(cmd)
        cmd.set_defaults(func=func)

    request = sub.add_parser("request", help="print a JSON request body built from a bars CSV (for curl)")
    request.add_argument("--symbol", required=True)
    request.add_argument("--bars", help="CSV of OHLCV bars; the last --last bars are sent")
    request.add_argument("--last", type=int, default=513, help="bars to send (default 513: context 512 + 1)")
    request.add_argument("--session", choices=["regular", "all"], default="regular",
                         help="send only bars of the session the served model was trained on (`investiq models`)")
    request.add_argument("--news", action="append", help="a news text; repeat for more")
    request.add_argument("--outcome", action="append", help="STRATEGY:win or STRATEGY:loss; repeat for more")
    request.set_defaults(func=cmd_request)

    sentiment_eval = sub.add_parser("evaluate-sentiment", help="score a sentiment model on PhraseBank and FiQA")
    sentiment_eval.add_argument("--model", default="ProsusAI/finbert", help="hub id or local checkpoint")
    sentiment_eval.add_argument("--data", help="the shared data folder (default ../shared/data or $INVESTIQ_SHARED_DATA)")
    sentiment_eval.add_argument("--out", help="write the figures as JSON here")
    sentiment_eval.set_defaults(func=cmd_evaluate_sentiment)

    bandit_eval = sub.add_parser("evaluate-bandit", help="regret of bandit policies on simulated strategies")
    bandit_eval.add_argument("--steps", type=int, default=1000)
    bandit_eval.add_argument("--seeds", type=int, default=200)
    bandit_eval.add_argument("--out", help="write the figures as JSON here")
    bandit_eval.set_defaults(func=cmd_evaluate_bandit)

    finetune_ = sub.add_parser("finetune-sentiment", help="fine-tune a checkpoint on labelled news (stratified split)")
    finetune_.add_argument("--model", default=DEFAULT_SENTIMENT_MODEL, help="hub id or local checkpoint to start from")
    texts = finetune_.add_mutually_exclusive_group(required=True)
    texts.add_argument("--csv", help="CSV with text,label columns (labels positive/negative/neutral)")
    texts.add_argument("--phrasebank", choices=["AllAgree", "75Agree", "66Agree", "50Agree"],
                       help="a Financial PhraseBank level from the shared data (non-commercial licence)")
    finetune_.add_argument("--data", help="the shared data folder (default ../shared/data or $INVESTIQ_SHARED_DATA)")
    finetune_.add_argument("--out", required=True, help="directory for the fine-tuned model")
    finetune_.add_argument("--epochs", type=int, default=3)
    finetune_.add_argument("--batch-size", type=int, default=16)
    finetune_.add_argument("--learning-rate", type=float, default=2e-5)
    finetune_.set_defaults(func=cmd_finetune_sentiment)

    report = sub.add_parser("report", help="regenerate the model-quality report (markdown + PNG)")
    report.add_argument("--out", default="reports/quality", help="output folder (default reports/quality)")
    report.add_argument("--sections", help="comma-separated: ett,direction,volatility,sentiment,bandit (default all)")
    report.add_argument("--render-only", action="store_true", help="only rewrite REPORT.md from the saved sections")
    report.add_argument("--data", help="the shared data folder (default ../shared/data or $INVESTIQ_SHARED_DATA)")
    report.add_argument("--sentiment-model", default=DEFAULT_SENTIMENT_MODEL,
                        help=f"the sentiment model to score (hub id or local directory; default {DEFAULT_SENTIMENT_MODEL})")
    report.add_argument("--setups", help="direction setups, comma-separated: SPY-5min,NVDA-5min,SPY-daily (default all)")
    report.add_argument("--ett-dataset", choices=["ETTh1", "ETTm1"], default="ETTh1",
                        help="ETTm1 has 4x the windows of ETTh1: about 4x the time (default ETTh1)")
    report.add_argument("--ett-max-epochs", type=int, default=50, help="cap on ETT training epochs (default 50)")
    report.add_argument("--ett-lr-schedule", choices=["constant", "paper"], default="constant",
                        help="constant 1e-4, or the official x0.9 decay per epoch after epoch 3 (default constant)")
    report.set_defaults(func=cmd_report)

    openapi = sub.add_parser("openapi", help="write the API's OpenAPI schema (for generated clients)")
    openapi.add_argument("--out", default="openapi.json", help="file to write; '' prints it (default openapi.json)")
    openapi.set_defaults(func=cmd_openapi)
    return parser


# What an operator can fix, said in one line; anything else is a bug and keeps its traceback.
OPERATOR_ERRORS = (ValueError, KeyError, FileNotFoundError, FileExistsError, ConnectionError, PromotionFailed)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        raise SystemExit(f"investiq {args.command}: interrupted (a promotion under way was undone)") from None
    except Exception as exc:
        if not isinstance(exc, OPERATOR_ERRORS) and not _ray_refused(exc):
            raise  # a bug: its traceback is what a maintainer needs
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise SystemExit(f"investiq {args.command}: {' '.join(message.split()) or type(exc).__name__}") from None


def _ray_refused(exc: Exception) -> bool:
    """Ray's token check refused us (e.g. `tune --ray-address` on a cluster with auth on). Only
    a command that imported Ray can meet it, so the CLI does not import Ray to ask."""
    exceptions = sys.modules.get("ray.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.AuthenticationError)


if __name__ == "__main__":
    main()
