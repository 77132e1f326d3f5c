"""The model-quality report: every model beside its reference and its baselines, regenerated
by one command into markdown and PNG files.

Sections, each saved as `<section>.json` in the output folder so that one section can be
re-run alone (`--sections`) and the markdown re-rendered from all of them:
- ett: PatchTST on ETTh1 against the paper (training.ett);
- direction: walk-forward direction, baselines, reliability and backtest (training.walk_forward);
- volatility: walk-forward volatility baselines and VaR (training.volatility_eval);
- sentiment: Financial PhraseBank and FiQA, baselines, and a given model (training.sentiment_eval);
- bandit: regret of Thompson sampling against UCB1, epsilon-greedy, uniform (training.bandit_eval).

    investiq report                      # all sections into reports/quality (see README for the time)
    investiq report --sections bandit    # one section, then the markdown again
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from training.train import code_commit

logger = logging.getLogger(__name__)
SECTIONS = ("ett", "direction", "volatility", "sentiment", "bandit")
ETT_HORIZONS = (96, 336)
PAPER_SCHEDULE_FILE = "ett_paper_schedule.json"


def run_ett(data_dir: Path, horizons=ETT_HORIZONS, dataset: str = "ETTh1", **overrides) -> dict:
    """The paper's settings for `dataset`; `overrides`: other ETTConfig fields (e.g. max_epochs)."""
    from training.ett import PAPER_SETTINGS, ETTConfig, reproduce

    settings = {**PAPER_SETTINGS[dataset], **overrides}
    return {str(h): reproduce(data_dir / "ett" / f"{dataset}.csv", ETTConfig(dataset=dataset, horizon=h, **settings))
            for h in horizons}


def run_direction(data_dir: Path, setups: dict | None = None) -> dict:
    """`setups`: name -> walk_forward.Setup; default all of walk_forward.SETUPS."""
    from training.walk_forward import SETUPS, evaluate_setup

    return {name: evaluate_setup(setup, data_dir) for name, setup in (setups or SETUPS).items()}


def run_volatility(data_dir: Path, setups: dict | None = None) -> dict:
    """`setups`: name -> volatility_eval.VolatilitySetup; default all of volatility_eval.SETUPS."""
    from training.volatility_eval import SETUPS, evaluate_volatility

    return {name: evaluate_volatility(setup, data_dir) for name, setup in (setups or SETUPS).items()}


def run_sentiment(data_dir: Path, model: str | None = None) -> dict:
    """Baselines on a stratified held-out fifth of PhraseBank 50Agree (scored per agreement
    level of the held-out sentences) and, when `model` loads, that model on the same
    sentences and on every level and FiQA."""
    from training.finetune_sentiment import stratified_split, tfidf_baseline
    from training.sentiment_eval import AGREEMENT_LEVELS, classification_scores, evaluate, load_phrasebank

    texts, labels = load_phrasebank(data_dir, "50Agree")
    train_texts, test_texts, train_labels, test_labels = stratified_split(texts, labels, 0.2, seed=0)
    levels = {level: set(load_phrasebank(data_dir, level)[0]) for level in AGREEMENT_LEVELS}
    majority = max(set(train_labels), key=train_labels.count)
    predictions = {"majority class": [majority] * len(test_texts),
                   "tf-idf + logistic regression": list(tfidf_baseline(train_texts, train_labels).predict(test_texts))}
    result = {"train": len(train_texts), "held_out": len(test_texts), "model": model, "model_error": None}
    if model:
        try:
            from models.sentiment import SentimentModel

            loaded = SentimentModel(model, prefer_gpu=False)
            predictions[model] = [s.label for i in range(0, len(test_texts), 32)
                                  for s in loaded.score(test_texts[i:i + 32])]
            result["model_full"] = evaluate(loaded, data_dir)
        except (OSError, ValueError) as exc:  # hub unreachable, no such directory, wrong labels
            result["model_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    result["held_out_scores"] = {
        level: {name: classification_scores([p for p, t in zip(pred, test_texts) if t in members],
                                            [a for a, t in zip(test_labels, test_texts) if t in members])
                for name, pred in predictions.items()}
        for level, members in levels.items()}
    return result


def run_bandit(steps: int = 1000, seeds: int = 100) -> dict:
    from training.bandit_eval import POLICIES, STATIONARY, SWITCH, cumulative_regret

    out = {"steps": steps, "seeds": seeds, "scenarios": {}}
    for scenario in (STATIONARY, SWITCH):
        runs = {name: cumulative_regret(name, scenario, steps, seeds) for name in POLICIES}
        out["scenarios"][scenario.name] = {
            "rates": list(scenario.rates), "rates_after": scenario.rates_after, "switch_at": scenario.switch_at,
            "policies": {name: {"final_mean": float(r[:, -1].mean()),
                                "final_ci95": float(1.96 * r[:, -1].std(ddof=1) / np.sqrt(seeds)),
                                "mean_curve": r.mean(axis=0)[::10].tolist()} for name, r in runs.items()}}
    return out


def run_section(name: str, data_dir: Path, options: dict) -> dict:
    start, commit = time.perf_counter(), code_commit()
    if name == "ett":
        result = run_ett(data_dir, options.get("ett_horizons", ETT_HORIZONS), options.get("ett_dataset", "ETTh1"),
                         **options.get("ett_overrides", {}))
    elif name == "direction":
        result = run_direction(data_dir, options.get("setups"))
    elif name == "volatility":
        result = run_volatility(data_dir, options.get("volatility_setups"))
    elif name == "sentiment":
        result = run_sentiment(data_dir, options.get("sentiment_model"))
    else:
        result = run_bandit(**options.get("bandit", {}))
    return {"section": name, "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_commit": commit, "seconds": time.perf_counter() - start, "result": result}


def build(out_dir: Path, data_dir: Path, sections=SECTIONS, **options) -> Path:
    """Run `sections`, save each as JSON, then render the whole report from what is saved.
    `options`: sentiment_model, setups, volatility_setups, ett_dataset, ett_horizons, ett_overrides,
    bandit (steps, seeds)."""
    from training.report_render import render

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sections:
        logger.info("report section %s", name)
        saved = run_section(name, data_dir, options)
        (out_dir / section_file(name, options)).write_text(json.dumps(saved, indent=1))
    saved = {name: json.loads((out_dir / f"{name}.json").read_text())
             for name in SECTIONS if (out_dir / f"{name}.json").is_file()}
    paper_schedule = out_dir / PAPER_SCHEDULE_FILE
    if "ett" in saved and paper_schedule.is_file():
        saved["ett"]["paper_schedule"] = json.loads(paper_schedule.read_text())
    return render(saved, out_dir)


def section_file(name: str, options: dict) -> str:
    """Where a section is saved. An ETT run under the official learning-rate schedule is kept
    apart, beside the constant-rate run the report leads with, so that both stay on record."""
    if name == "ett" and options.get("ett_overrides", {}).get("lr_schedule") == "paper":
        return PAPER_SCHEDULE_FILE
    return f"{name}.json"
