"""The embedded default models: made by `investiq train-default`, shipped in the repository
(models/defaults/price and models/defaults/volatility) each with its model card, and served
while their registry has no production version (models.registry.resolve_model_dir), so a
fresh install answers on price and carries a risk block.

Its bars are the one series in the shared data whose source states a licence that allows
shipping what is derived from it (QQQ daily, MIT; see the data's MANIFEST.md): the weights are
shipped, the bars never are. Its skill is measured as the promotion gate measures a candidate
against the base rate, on every held-out test window, and the card says "none detectable"
when the test finds none. The card is written from the model's own metadata, so what it says
is what the command measured. The volatility default is HAR-RV (training.train_har) on the
same bars, its skill measured against the training mean with a Diebold–Mariano test on QLIKE.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from scipy.stats import norm

from models.direction import CLASSES
from models.model_directory import METADATA_FILE
from models.registry import DEFAULT_PRICE_MODEL, DEFAULT_VOLATILITY_MODEL
from training.data import load_bars
from training.retrain import gate
from training.train import TrainConfig, train
from training.train_har import train_har

BARS = "stocks/daily/QQQ_1d_splitadj.csv"
DATA = {"file": f"../shared/data/{BARS}", "what": "QQQ daily OHLCV, split-adjusted only (no dividends)",
        "source": "gcfc/money-tree, data/QQQ_1d.csv", "licence": "MIT (the source repository's)"}
CONFIG = TrainConfig(context_length=128, horizon=1, flat_band_bp=5.0, sample_step=1, max_epochs=20, patience=3,
                     model_id="default-patchtst-direction")
COMMAND = "investiq train-default"
CARD = "MODEL_CARD.md"
ALPHA = 0.05  # one-sided level of the test that the model beats the base rate


def skill(vs_base_rate: dict) -> dict:
    """Whether the model's log-loss is below the base rate's beyond doubt: the one-sided
    (1 - ALPHA) upper bound of mean(model - base rate) must be below 0."""
    upper = vs_base_rate["mean_difference"] + norm.ppf(1 - ALPHA) * vs_base_rate["hac_se"]
    return {"mean_difference": vs_base_rate["mean_difference"], "hac_se": vs_base_rate["hac_se"],
            "t": vs_base_rate["t"], "upper_bound": float(upper), "alpha": ALPHA, "detectable": bool(upper < 0)}


def train_default_price_model(data_dir: Path, out: Path = DEFAULT_PRICE_MODEL, config: TrainConfig = CONFIG) -> dict:
    """Train on the shared bars, measure, and replace `out` with the model and its card."""
    start = time.perf_counter()
    frame = load_bars(csv=Path(data_dir) / BARS, session="all")
    version = f"qqq-daily-{frame.index[-1]:%Y%m%d}"
    model, metrics = train(frame, config, version=version, session="all")
    _, _, figures = gate(model, None, frame, config)
    model.metadata.extra["default_model"] = {
        "data": DATA, "command": COMMAND, "train_seconds": round(time.perf_counter() - start, 1),
        "held_out": {k: figures[k] for k in ("windows", "first_window", "last_window", "hac_lags", "log_loss",
                                             "accuracy")},
        "skill": skill(figures["vs_base_rate"])}
    replace_with(out, model, model_card(asdict(model.metadata)))
    return {"out": str(out), "version": version, "validation": metrics["validation"], "test": metrics["test"],
            "skill": model.metadata.extra["default_model"]["skill"]}


def replace_with(out: Path, model, card: str) -> None:
    """`out` becomes the model's directory with its card, whole or not at all."""
    staging = Path(out).with_name(Path(out).name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save(staging)
    (staging / CARD).write_text(card)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


def train_default_volatility_model(data_dir: Path, out: Path = DEFAULT_VOLATILITY_MODEL) -> dict:
    """HAR on the same bars (daily: the next day and week), measured, with its card, into `out`."""
    start = time.perf_counter()
    frame = load_bars(csv=Path(data_dir) / BARS, session="all")
    model, metrics = train_har(frame, "all", version=f"qqq-daily-{frame.index[-1]:%Y%m%d}",
                               model_id="default-har-volatility")
    model.metadata.extra["default_model"] = {"data": DATA, "command": COMMAND,
                                             "train_seconds": round(time.perf_counter() - start, 1)}
    replace_with(out, model, volatility_model_card(asdict(model.metadata)))
    return {"out": str(out), "version": model.metadata.version,
            "test_qlike": {h: {n: round(f["qlike"], 4) for n, f in s["forecasters"].items()}
                           for h, s in metrics["test"].items()}}


def _rates(rates: dict) -> str:
    return ", ".join(f"{c} {rates[c]:.1%}" for c in CLASSES)


def served_while(meta: dict, branch: str) -> str:
    """When a default model is served, how to replace it, and what made its card."""
    made, commit = meta["extra"]["default_model"], (meta["extra"].get("code_commit") or "?")[:10]
    return (f"`{branch}.model_dir` holds no production version (a fresh install), and named by its model id in "
            f"`model_versions` and `/readyz` (whose {branch} `reason` says it is the default). Your own model "
            f"replaces it the moment one is promoted (`{branch}.default_model: false` turns it off). Generated by "
            f"`{made['command']}` from `{METADATA_FILE}` beside it (commit {commit}, {made['train_seconds']:.0f} s on "
            "the machine that made it); do not edit by hand.")


def model_card(meta: dict) -> str:
    """The card of a default model, from its metadata (investiq.json) alone."""
    extra, made = meta["extra"], meta["extra"]["default_model"]
    window, metrics, s, held = extra["data_window"], extra["metrics"], made["skill"], made["held_out"]
    config = extra["train_config"]
    verdict = ("detectable: the model's log-loss is below the base rate's" if s["detectable"]
               else "none detectable")
    threshold = (f"{meta['signal_threshold']:g}, chosen on the validation windows" if meta["signal_threshold"]
                 is not None else "none: no threshold paid significantly on the validation windows, so its signals "
                                  "are HOLD and say why, as any model's without a threshold")
    rows = [f"| {part} | {m['samples']} | {m['log_loss']:.4f} | {m['base_rate_log_loss']:.4f} | {m['accuracy']:.3f} "
            f"| {m['majority_accuracy']:.3f} |" for part, m in (("validation", metrics["validation"]),
                                                               ("test", metrics["test"]))]
    settings = [f"| `{k}` | {v} |" for k, v in config.items() if k not in ("extra", "model_id")]
    return "\n".join([
        f"# Default price-direction model `{meta['model_id']}@{meta['version']}`",
        "",
        "Served by the graph while " + served_while(meta, "price"),
        "",
        "## Data and window",
        "",
        f"- Bars: `{made['data']['file']}`, {made['data']['what']}; source {made['data']['source']}; licence "
        f"{made['data']['licence']}, the only bars in the shared data whose source states a licence. The bars "
        "are not in this repository, only the weights trained on them.",
        f"- Window: {window['bars']} bars, {window['first_bar'][:10]} to {window['last_bar'][:10]}; trained on "
        f"bars up to {window['train_until'][:10]}, then validation and test in time order (15 % each), with a "
        f"purge of {config['context_length'] + config['horizon']} bars between the parts.",
        f"- What it accepts: daily bars (spacing {meta['bar_interval_s']:g} s, session `{meta['session']}`), at "
        f"least {config['context_length'] + 1} of them; other spacings answer 422 naming `bars.timestamps`.",
        f"- Labels: the log return over {meta['horizon']} bar(s) is up, flat (within ±{meta['flat_band_bp']:g} bp) "
        f"or down. Training base rates: {_rates(extra['base_rates'])}. Temperature {meta['temperature']:.3f}.",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        *settings,
        "",
        "## How good it is",
        "",
        "Scores of the calibrated forecast beside the training base rates (the forecast that knows nothing of the "
        f"bars) on the same windows, as `investiq train` prints them (early stopping on validation log-loss kept "
        f"epoch {metrics['best_epoch']} of the {len(metrics['history'])} it ran):",
        "",
        "| part | windows | log-loss | base-rate log-loss | accuracy | majority-class accuracy |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Against the base rate on every held-out test window ({held['windows']} windows, {held['first_window'][:10]} "
        f"to {held['last_window'][:10]}), as the promotion gate scores a candidate: mean log-loss difference (model "
        f"minus base rate) {s['mean_difference']:+.4f} nats, Newey-West se {s['hac_se']:.4f} ({held['hac_lags']} "
        f"lags), t {s['t']:+.2f}. Skill counts as detectable only when the one-sided {1 - s['alpha']:.0%} upper "
        f"bound of that difference is below 0; it is {s['upper_bound']:+.4f}.",
        "",
        f"**Skill over the base rate: {verdict}.**",
        "",
        f"Signal threshold: {threshold}. The walk-forward evaluation of the same architecture on SPY and NVDA bars "
        "is in `reports/quality/REPORT.md`.",
        "",
        "## What it is for",
        "",
        "Showing what the graph does before you have a model of your own: the price branch answers, its forecast "
        "is logged, settled and scored like any model's, and the operator page shows it. It is not a trading "
        "model. Shadow mode and the not-actionable rules apply to it as to any model. Train your own with "
        "`investiq train --bars <csv> --session regular --registry var/models/price --promote`.",
        "",
    ])


def volatility_model_card(meta: dict) -> str:
    """The card of the default volatility model, from its metadata (investiq.json) alone."""
    extra, made = meta["extra"], meta["extra"]["default_model"]
    window = extra["data_window"]
    rows, verdicts = [], []
    for part in ("validation", "test"):
        for horizon, scores in extra["metrics"][part].items():
            f = scores["forecasters"]
            coverage = ", ".join(f"{float(level):.0%}: {v['kupiec']['rate']:.1%} (Kupiec p {v['kupiec']['p_value']:.2f})"
                                 for level, v in f["har"]["var"].items())
            rows.append(f"| {part} | {horizon[1:]} | {scores['origins']} | {f['har']['qlike']:.3f} | "
                        f"{f['ewma']['qlike']:.3f} | {f['garch']['qlike']:.3f} | {f['unconditional']['qlike']:.3f} | "
                        f"{coverage} |")
            if part == "test":
                dm = f["unconditional"]["qlike_vs_har"]
                better = dm["estimate"] > 0 and dm["p_value"] < ALPHA
                verdicts.append(f"over {horizon[1:]} day(s) {'detectable' if better else 'none detectable'} "
                                f"(the training mean's QLIKE minus HAR's {dm['estimate']:+.3f}, Diebold–Mariano "
                                f"p {dm['p_value']:.3f})")
    return "\n".join([
        f"# Default volatility model `{meta['model_id']}@{meta['version']}`",
        "",
        "HAR-RV, served by the graph's volatility branch while " + served_while(meta, "volatility"),
        "",
        "## Data and window",
        "",
        f"- Bars: `{made['data']['file']}`, {made['data']['what']}; source {made['data']['source']}; licence "
        f"{made['data']['licence']}. The bars are not in this repository, only the coefficients fitted on them.",
        f"- Window: {window['bars']} bars, {window['first_bar'][:10]} to {window['last_bar'][:10]}; fitted on bars up "
        f"to {window['train_until'][:10]}, then validation and test in time order (15 % each), from "
        f"{window['test_from'][:10]} the test.",
        f"- What it forecasts: the sum of the next {' and '.join(map(str, meta['horizons']))} days' Parkinson range "
        f"variances, from the mean of the last {', '.join(map(str, meta['windows']))} days'; it accepts daily bars "
        f"(spacing {meta['bar_interval_s']:g} s), at least {max(meta['windows'])} of them.",
        "- The return over each horizon: the forecast volatility times the empirical quantiles of the training "
        "days' returns divided by the forecast (filtered historical simulation).",
        "",
        "## How good it is",
        "",
        "Mean QLIKE (lower is better) of HAR and of baselines fitted on the same training part, at origins one "
        "horizon apart, and HAR's value-at-risk breach rates:",
        "",
        "| part | horizon (days) | origins | HAR | EWMA | GARCH | training mean | HAR VaR breaches |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"**Skill over the training mean: {'; '.join(verdicts)}.** The walk-forward comparison with every other "
        "forecaster, PatchTST included, on SPY and NVDA bars is in `reports/quality/REPORT.md`.",
        "",
        "## What it is for",
        "",
        "A risk block from the first run: volatility, a return interval, value at risk and a position scale for "
        "daily bars. It was fitted on one index ETF; fit your own on your bars with "
        "`investiq train-volatility --bars <csv> --registry var/models/volatility --promote`.",
        "",
    ])
