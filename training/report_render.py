"""Markdown and PNG figures of the model-quality report, from the saved section results.

Every sentence that judges a model ("beats the base rate", "target met") is computed here
from the figures, so a re-run can never leave a stale verdict behind.
"""

from __future__ import annotations

import math

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from training.backtest import MIN_T, THRESHOLD_GRID  # noqa: E402

PAPER_SCHEDULE_COMMAND = "`investiq report --sections ett --ett-lr-schedule paper --ett-max-epochs 30`"
COMMANDS = {
    "ett": "investiq report --sections ett",
    "direction": "investiq report --sections direction",
    "sentiment": "investiq report --sections sentiment [--sentiment-model PATH_OR_HUB_ID]",
    "bandit": "investiq report --sections bandit",
    "volatility": "investiq report --sections volatility",
}


MIN_BIN = 10  # reliability bins with fewer windows are noise, not calibration
ETT_TARGET = {("ETTh1", "96"): 0.394}  # the paper's 0.375 + 5 %; horizons are keyed as saved


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def with_ci(scores: dict, key: str, digits: int = 3) -> str:
    low, high = scores[f"{key}_ci"]
    return f"{scores[key]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def provenance(saved: dict) -> str:
    minutes = saved["seconds"] / 60
    commit = saved["code_commit"] or "unknown"
    short = commit[:10] + (" with uncommitted changes" if commit.endswith("+changes") else "")
    return (f"_Made by `{COMMANDS[saved['section']]}` at {saved['generated_at']} (commit {short}), "
            f"{minutes:.1f} min on this machine._")


def ett_section(saved: dict, out_dir: Path) -> list[str]:
    runs = saved["result"]
    rows, verdicts = [], []
    for horizon, r in runs.items():
        rows.append([r["config"]["dataset"], horizon, fmt(r["mse"]), fmt(r["mae"]), fmt(r["mse_full_batches"]),
                     f"{fmt(r['paper_mse'])} / {fmt(r['paper_mae'])}", fmt(r["rerun_every_window_mse"]),
                     r["config"]["lr_schedule"], f"{r['best_epoch']} of {r['epochs_run']}",
                     f"{r['train_seconds'] / 60:.1f}"])
        target = ETT_TARGET.get((r["config"]["dataset"], horizon))
        if target is not None:
            met = "met" if r["mse"] <= target else "**not met**"
            verdicts.append(f"Target for horizon {horizon}: MSE ≤ {target} (paper + 5 %): {met} ({r['mse']:.3f}).")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for horizon, r in runs.items():
        ax.plot([h["val_mse"] for h in r["history"]], label=f"horizon {horizon}, validation")
    ax.set(xlabel="epoch", ylabel="MSE (scaled)", title="PatchTST on ETT: validation MSE per epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "ett_validation.png", dpi=110)
    plt.close(fig)
    first = next(iter(runs.values()))["config"]
    return [
        f"## PatchTST on {first['dataset']} against the paper", "", provenance(saved), "",
        f"transformers' PatchTST with look-back {first['context_length']}, patch {first['patch_length']}, stride "
        f"{first['patch_stride']} (41 patches: it does not pad the end as the official code does, which makes 42), "
        "the official scripts' model sizes and dropouts for the data set, standard split, train-fitted scaling; "
        "MSE/MAE on scaled data. The learning rate is **not** the paper's: "
        f"{schedule_wording(first)}. \"All windows\" scores every test window; \"full batches\" only the windows "
        "the official loader scores (it drops the last partial batch of 128).",
        "",
        *table(["data", "horizon", "MSE, all windows", "MAE", "MSE, full batches", "paper MSE / MAE",
                "official code re-run, all windows", "learning rate", "best epoch", "train min"], rows),
        "", *verdicts, "", *paper_schedule_lines(saved.get("paper_schedule")), "![validation MSE](ett_validation.png)",
        "",
    ]


def schedule_wording(config: dict) -> str:
    if config.get("lr_schedule", "paper") == "paper":
        return f"the official schedule, {config['learning_rate']:g} decayed ×0.9 per epoch after epoch 3"
    return (f"a constant {config['learning_rate']:g}, chosen after the official schedule (×0.9 per epoch after "
            "epoch 3) stopped short of the paper on these test windows (below), so these figures are not free of "
            "that choice")


def paper_schedule_lines(saved: dict | None) -> list[str]:
    """The run under the official schedule, kept in ett_paper_schedule.json."""
    if not saved:
        return []
    rows = [[h, fmt(r["mse"]), fmt(r["mae"]), f"{r['best_epoch']} of {r['epochs_run']}"]
            for h, r in saved["result"].items()]
    return [f"Under the official schedule ({PAPER_SCHEDULE_COMMAND}, at {saved['generated_at']}, commit "
            f"{(saved['code_commit'] or 'unknown')[:10]}; saved in `ett_paper_schedule.json`):", "",
            *table(["horizon", "MSE, all windows", "MAE", "best epoch"], rows), ""]


def direction_section(saved: dict, out_dir: Path) -> list[str]:
    setups = saved["result"]
    lines = ["## Price direction, walk-forward on real bars", "", provenance(saved), "",
             "Each forecaster is scored on the same test windows, one horizon apart (across fold boundaries too), "
             "pooled over the folds. Brackets: 95 % moving-block bootstrap intervals, the block length chosen from "
             "the data (Politis–White). Brier skill is against the base rate (> 0 beats it).", "",
             "As a trading signal each forecaster gives its **edge score**, (P(up) − ref(up)) − (P(down) − "
             "ref(down)), where the reference is the forecaster's own mean forecast on the fold's validation "
             "windows: 0 for a forecaster that says the same whatever the bars, however lopsided (the training "
             "drift, and any lean of the network's own). The information coefficient (IC) is its correlation "
             "with the realised horizon return, the rank IC the same on ranks; t-statistics are Newey–West "
             "(HAC). The backtest goes long when the edge score reaches a threshold, short at minus it, holds "
             "one horizon, and pays the stated cost per unit of position change. The threshold is chosen per "
             "fold on the fold's validation windows (one horizon apart), from "
             f"{', '.join(str(t) for t in THRESHOLD_GRID)}: the one that made the most money there among those whose "
             "mean P&L per period was significantly positive (HAC t ≥ 2.45, one-sided 5 % with Bonferroni over the "
             "grid), or none (never trade) when no threshold was. The comparison with buy-and-hold is paired on the same periods: a HAC t-test of the "
             "per-period P&L difference, and the Sharpe difference with a block-bootstrap interval.", "",
             "PatchTST's backtest is the served signal on the price branch alone: training stores the reference "
             "and the threshold in the model directory (`edge_reference`, `signal_threshold`), and with "
             "`ingress.merge.threshold` unset the merge trades on that threshold with the price score alone "
             "(sentiment is reported beside it, not mixed in), so this row scores what the graph answers for "
             "these bars, except that the backtest does not drop the windows the served out-of-distribution "
             "check would flag. Sentiment cannot be scored on bar data: no news in the shared data is aligned "
             "with these bars (PhraseBank and FiQA carry no timestamps), so the merge's price and sentiment "
             "weights, which apply only under a threshold the operator sets, stay a stated prior, and that "
             "combination is not scored.", ""]
    fig_rel, rel_axes = plt.subplots(1, len(setups), figsize=(4.2 * len(setups), 4), squeeze=False)
    fig_eq, eq_axes = plt.subplots(1, len(setups), figsize=(4.2 * len(setups), 3.5), squeeze=False)
    for k, (name, r) in enumerate(setups.items()):
        setup, train = r["setup"], r["setup"]["train"]
        rates = ", ".join(f"{c} {v:.1%}" for c, v in r["test_class_rates"].items())
        block = r["scores"]["patchtst"]["bootstrap_block"]
        lines += [f"### {name}", "",
                  f"{r['bars']} bars {r['first_bar'][:10]} → {r['last_bar'][:10]}; test {r['test_first_bar'][:16]} → "
                  f"{r['test_last_bar'][:16]} in {setup['folds']} folds; horizon {train['horizon']} bars, flat band "
                  f"±{train['flat_band_bp']} bp, context {train['context_length']}. Test classes: {rates}. "
                  f"Ensemble weight on PatchTST per fold: {', '.join(f'{w:.2f}' for w in r['ensemble_weights'])}. "
                  f"Bootstrap block: {block} windows.", ""]
        rows = [[model, with_ci(s, "accuracy"), with_ci(s, "balanced_accuracy"), with_ci(s, "log_loss"),
                 with_ci(s, "brier"), with_ci(s, "brier_skill")] for model, s in r["scores"].items()]
        lines += table(["forecaster", "accuracy", "balanced accuracy", "log-loss", "Brier", "Brier skill vs base rate"],
                       rows)
        lines += ["", *direction_verdicts(r["scores"]), f"- The {ensemble_verdict(r['scores'])}.", ""]
        lines += signal_lines(r)
        bt = r["backtest"]
        bt_rows = [[model, thresholds_wording(r["thresholds"].get(model)), f"{b['total_return']:+.1%}",
                    f"{b['sharpe']:.2f} [{b['sharpe_ci'][0]:.2f}, {b['sharpe_ci'][1]:.2f}]",
                    reference_wording(b.get("vs_reference")), f"{b['max_drawdown']:.1%}",
                    "–" if b["hit_rate"] is None else f"{b['hit_rate']:.1%}", f"{b['exposure']:.0%}",
                    f"{b['turnover']:.2f}"] for model, b in bt.items()]
        lines += [f"Backtest over {bt['buy_and_hold']['periods']} periods, cost {setup['train']['cost_bp']} bp:", "",
                  *table(["strategy", "threshold per fold", "total return", "Sharpe (annualised) [95 %]",
                          "vs buy-and-hold: P&L difference per period (HAC t, p); Sharpe difference [95 %]",
                          "max drawdown", "hit rate", "exposure", "turnover / period"], bt_rows), "",
                  f"- {backtest_verdict(bt['patchtst'], r['thresholds']['patchtst'])}",
                  *power_lines(r, setup), ""]
        ax = rel_axes[0][k]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for model, bins in r["reliability_up"].items():
            bins = [b for b in bins if b["n"] >= MIN_BIN]
            ax.plot([b["forecast"] for b in bins], [b["observed"] for b in bins], marker="o", label=model)
        ax.set(title=f"{name}: P(up)", xlabel="forecast", ylabel="observed frequency")
        ax.legend(fontsize=8)
        ax = eq_axes[0][k]
        for model, b in bt.items():
            ax.plot(b["equity"], label=model)
        ax.set(title=name, xlabel="test period", ylabel="equity")
        ax.legend(fontsize=8)
    for fig, file in ((fig_rel, "direction_reliability.png"), (fig_eq, "direction_equity.png")):
        fig.tight_layout()
        fig.savefig(out_dir / file, dpi=110)
        plt.close(fig)
    lines += [f"Reliability of P(up) (bins of 0.1 holding at least {MIN_BIN} test windows):", "",
              "![reliability](direction_reliability.png)", "", "Equity of the backtests:", "",
              "![equity](direction_equity.png)", ""]
    return lines


def signal_lines(r: dict) -> list[str]:
    """The edge score as a signal: drift removed, IC, rank IC, hit rate by confidence."""
    rows = []
    for model, ic in r["information_coefficient"].items():
        edge = r["edge_score"][model]
        rows.append([model, f"{edge['raw_up_minus_down']:+.3f}", f"{edge['mean']:+.4f}", f"{edge['mean_abs']:.4f}",
                     ic_wording(ic, "ic"), ic_wording(ic, "rank_ic")])
    buckets = r["hit_rate_by_confidence"]["patchtst"]
    bucket_rows = [[f"{b['min_confidence']:.4f} – {b['max_confidence']:.4f}", str(b["n"]),
                    f"{b['hit_rate']:.1%} [{b['hit_rate_ci'][0]:.1%}, {b['hit_rate_ci'][1]:.1%}]"] for b in buckets]
    return ["Signals on the test windows (mean raw P(up) − P(down) is what the merge used before; the edge score "
            "removes the lean the forecaster showed on validation):", "",
            *table(["forecaster", "mean P(up) − P(down)", "mean edge score", "mean abs edge score", "IC (HAC t)",
                    "rank IC (HAC t)"], rows), "",
            "PatchTST's hit rate (the return has the edge score's sign) by confidence bucket |edge score|, "
            "equal counts, 95 % Wilson intervals:", "",
            *table(["abs edge score", "windows", "hit rate"], bucket_rows), ""]


def ic_wording(ic: dict, key: str) -> str:
    return "–" if ic[key] is None else f"{ic[key]:+.3f} ({ic[f'{key}_t']:+.2f})"


def power_lines(r: dict, setup: dict) -> list[str]:
    """What the threshold rule can detect: with n validation periods, HAC t >= MIN_T needs a
    per-period Sharpe of about MIN_T / sqrt(n), more for a rule that is flat part of the time."""
    periods = r.get("validation_periods")
    if not periods:
        return []
    needed = [MIN_T / math.sqrt(n) * math.sqrt(setup["periods_per_year"]) for n in periods]
    return [f"- What the threshold rule can detect: {min(periods)} to {max(periods)} validation periods per fold, "
            f"so a threshold qualifies only at an annualised Sharpe of at least {min(needed):.1f} to "
            f"{max(needed):.1f} on validation (HAC t ≥ {MIN_T:.2f}), more for a rule that is flat part of the "
            "time. A rule that never trades says the edge was not shown on that little data, not that there is none."]


def thresholds_wording(thresholds: list | None) -> str:
    return "–" if thresholds is None else ", ".join("none" if t is None else f"{t:g}" for t in thresholds)


def reference_wording(comparison: dict | None) -> str:
    if comparison is None:
        return "–"
    low, high = comparison["sharpe_difference_ci"]
    return (f"{comparison['mean_pnl_difference_bp']:+.2f} bp ({comparison['t']:+.2f}, p {comparison['p_value']:.2f}); "
            f"{comparison['sharpe_difference']:+.2f} [{low:+.2f}, {high:+.2f}]")


def backtest_verdict(b: dict, thresholds: list) -> str:
    """The served signal's rule against buy-and-hold: the paired P&L test says whether it makes
    more or less per period, the Sharpe interval whether its risk-adjusted return differs."""
    comparison = b["vs_reference"]
    low, high = comparison["sharpe_difference_ci"]
    if b["exposure"] == 0:
        why = ("no fold's validation P&L was significantly positive at any threshold"
               if all(t is None for t in thresholds) else "no test score reached its fold's threshold")
        return f"PatchTST's rule never traded on the test windows: {why}."
    if comparison["p_value"] < 0.05:
        pnl = f"makes {'more' if comparison['t'] > 0 else 'less'} per period than buy-and-hold"
    else:
        pnl = "is not distinguishable from buy-and-hold per period"
    sharpe = ("includes zero" if low <= 0 <= high else "is above zero" if low > 0 else "is below zero")
    return (f"PatchTST's rule {pnl}: P&L difference t {comparison['t']:+.2f} (p {comparison['p_value']:.2f}); "
            f"its Sharpe difference [{low:+.2f}, {high:+.2f}] {sharpe}.")


def ensemble_verdict(scores: dict) -> str:
    """Serve the PatchTST + logistic ensemble only if it beats the base rate and PatchTST alone."""
    ens, patch = scores["ensemble"], scores["patchtst"]
    helps = ens["brier_skill_ci"][0] > 0 and ens["brier_skill"] > patch["brier_skill"]
    return (f"ensemble {'helps' if helps else 'does not help'}: Brier skill {ens['brier_skill']:+.4f} "
            f"against PatchTST's {patch['brier_skill']:+.4f}")


def skill_verdict(low: float, high: float) -> str:
    """Against the base rate, from the Brier skill's interval."""
    if low > 0:
        return "beats the base rate"
    if high < 0:
        return "is **worse than the base rate**"
    return "does **not** beat the base rate (the interval includes zero)"


def direction_verdicts(scores: dict) -> list[str]:
    """One plain sentence per model: does its Brier skill interval clear zero?"""
    out = []
    for model in ("patchtst", "logistic", "persistence", "ensemble"):
        low, high = scores[model]["brier_skill_ci"]
        out.append(f"- {model} {skill_verdict(low, high)}: Brier skill {scores[model]['brier_skill']:+.4f} "
                   f"[{low:+.4f}, {high:+.4f}].")
    return out


def sentiment_section(saved: dict, out_dir: Path) -> list[str]:
    r = saved["result"]
    lines = ["## Sentiment on Financial PhraseBank and FiQA", "", provenance(saved), "",
             f"Held-out: a stratified fifth of PhraseBank 50Agree ({r['held_out']} sentences; baselines trained "
             f"on the other {r['train']}), scored within each agreement level. FinBERT paper: 0.97 accuracy on "
             "AllAgree (its own split).", "",
             f"{FINBERT_IN_SAMPLE}", ""]
    models = list(next(iter(r["held_out_scores"].values())))
    rows = [[level, str(scores[models[0]]["n"])] + [f"{scores[m]['accuracy']:.3f} / {scores[m]['macro_f1']:.3f}"
                                                    for m in models]
            for level, scores in r["held_out_scores"].items()]
    lines += table(["agreement", "held-out n"] + [f"{m}: accuracy / macro-F1" for m in models], rows)
    if r["model"] is None:
        lines += ["", "No transformer model was scored in this run: pass `--sentiment-model` (FinBERT's hub id "
                      "or a local directory)."]
    elif r["model_error"]:
        lines += ["", f"`{r['model']}` could not be loaded here ({r['model_error']}), so it has no figure in this "
                      "report; the command above scores it where its weights are present."]
    else:
        full = r["model_full"]
        rows = [[level, str(s["n"]), fmt(s["accuracy"]), fmt(s["macro_f1"])] for level, s in full["phrasebank"].items()]
        f = full["fiqa_headlines"]
        lines += ["", f"`{r['model']}` on every sentence of each level (in-sample for a model fine-tuned on "
                      "PhraseBank, as FinBERT is):", "",
                  *table(["agreement", "n", "accuracy", "macro-F1"], rows), "",
                  f"FiQA headlines, sign of the score (the clean test): {fmt(f['sign_accuracy'])} over {f['n']} "
                  f"(majority sign {fmt(f['majority_sign_baseline'])})."]
    return lines + [""]


def bandit_section(saved: dict, out_dir: Path) -> list[str]:
    r = saved["result"]
    scenarios = r["scenarios"]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5.5 * len(scenarios), 4), squeeze=False)
    lines = ["## Strategy weights: Thompson sampling against other bandits", "", provenance(saved), "",
             f"Simulated Bernoulli strategies, {r['seeds']} seeds × {r['steps']} outcomes; regret = best rate − "
             "played rate, summed. ± is a 95 % interval of the mean.", ""]
    for k, (name, s) in enumerate(scenarios.items()):
        after = f", switching to {s['rates_after']} at outcome {s['switch_at']}" if s["switch_at"] else ""
        lines += [f"{name}: win rates {s['rates']}{after}.", ""]
        rows = sorted(s["policies"].items(), key=lambda kv: kv[1]["final_mean"])
        lines += table(["policy", f"regret after {r['steps']}"],
                       [[p, f"{v['final_mean']:.1f} ± {v['final_ci95']:.1f}"] for p, v in rows]) + [""]
        ax = axes[0][k]
        for policy, v in s["policies"].items():
            ax.plot(range(0, r["steps"], 10), v["mean_curve"], label=policy)
        ax.set(title=name, xlabel="outcome", ylabel="mean cumulative regret")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "bandit_regret.png", dpi=110)
    plt.close(fig)
    return lines + ["![regret](bandit_regret.png)", ""]


FINBERT_IN_SAMPLE = ("ProsusAI/finbert was fine-tuned on Financial PhraseBank, so a PhraseBank score of it is "
                     "in-sample: it has seen these sentences, held-out fifth included. Its clean test is FiQA "
                     "(headlines it was not trained on). The TF-IDF baseline's held-out figures are out of sample.")


def bandit_summary(policies: dict) -> str:
    """Stationary regret of every policy, best first, saying which tie with the best (their
    95 % intervals overlap), so that no pair is singled out when a third ties it."""
    ranked = sorted(policies.items(), key=lambda kv: kv[1]["final_mean"])
    best_name, best = ranked[0]
    ties = [name for name, v in ranked[1:]
            if v["final_mean"] - v["final_ci95"] <= best["final_mean"] + best["final_ci95"]]
    figures = ", ".join(f"{name} {v['final_mean']:.1f} ± {v['final_ci95']:.1f}" for name, v in ranked)
    tie = f"; {best_name} ties with {', '.join(ties)} (intervals overlap)" if ties else f"; {best_name} is best"
    return f"{figures}{tie}"


def volatility_section(saved: dict, out_dir: Path) -> list[str]:
    from training.report_volatility import volatility_section as draw

    return draw(saved, out_dir)


RENDERERS = {"ett": ett_section, "direction": direction_section, "volatility": volatility_section,
             "sentiment": sentiment_section, "bandit": bandit_section}


def summary(saved: dict[str, dict]) -> list[str]:
    """The verdicts of every section in a few lines, for the top of the report."""
    lines = []
    if "ett" in saved:
        r = saved["ett"]["result"]
        for h, v in r.items():
            target = ETT_TARGET.get((v["config"]["dataset"], h))
            verdict = f" (target ≤ {target}: {'met' if v['mse'] <= target else 'not met'})" if target else ""
            lines.append(f"- PatchTST on {v['config']['dataset']}, horizon {h}: MSE {v['mse']:.3f} against the "
                         f"paper's {fmt(v['paper_mse'])}{verdict}.")
    if "direction" in saved:
        for name, r in saved["direction"]["result"].items():
            low, high = r["scores"]["patchtst"]["brier_skill_ci"]
            lines.append(f"- Direction, {name}: PatchTST {skill_verdict(low, high)}, Brier skill "
                         f"[{low:+.4f}, {high:+.4f}]; the {ensemble_verdict(r['scores'])}; its edge score's IC "
                         f"{ic_wording(r['information_coefficient']['patchtst'], 'ic')} (HAC t). "
                         f"{backtest_verdict(r['backtest']['patchtst'], r['thresholds']['patchtst'])}")
    if "sentiment" in saved:
        r = saved["sentiment"]["result"]
        tfidf = r["held_out_scores"]["AllAgree"]["tf-idf + logistic regression"]["accuracy"]
        scored = ("not scored here (weights unavailable)" if r["model_error"] or not r["model"]
                  else "scored below (PhraseBank in-sample for FinBERT; FiQA is its clean test)")
        lines.append(f"- Sentiment: {r['model']} {scored}; the TF-IDF baseline reaches {tfidf:.3f} on held-out "
                     "AllAgree sentences.")
    if "volatility" in saved:
        from training.report_volatility import volatility_summary

        lines += volatility_summary(saved["volatility"])
    if "bandit" in saved:
        s = saved["bandit"]["result"]["scenarios"]
        stationary, switch = s["stationary"]["policies"], s[next(k for k in s if k != "stationary")]["policies"]
        lines.append(f"- Bandit, stationary regret: {bandit_summary(stationary)}. After a switch: "
                     f"{bandit_summary(switch)}.")
    return ["## Summary", "", *lines, ""] if lines else []


def render(saved: dict[str, dict], out_dir: Path) -> Path:
    """Write REPORT.md (and its PNGs) into `out_dir` from the saved sections present."""
    lines = ["# Model quality report", "",
             "Regenerate everything with `investiq report` (see the README for its run time); each section says "
             "the command that made it. Generated; do not edit by hand.", "", *summary(saved)]
    for name, renderer in RENDERERS.items():
        if name in saved:
            lines += renderer(saved[name], out_dir)
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
