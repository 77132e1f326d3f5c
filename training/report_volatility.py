"""The volatility section of the model-quality report, drawn from `volatility.json`
(training.volatility_eval): tables, verdicts computed from the figures, and a plot.
training.report_render imports it when it draws the section (it uses that module's helpers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from training.report_render import provenance, table
from training.volatility_eval import best_other

ALPHA = 0.05


def dm_wording(test: dict | None) -> str:
    if not test:
        return "–"
    return f"{test['estimate']:+.3f} (t {test['t']:+.2f}, p {test['p_value']:.3f})"


def var_wording(var: dict) -> str:
    k, c = var["kupiec"], var["christoffersen"]
    return f"{k['rate']:.1%} (Kupiec p {k['p_value']:.2f}, indep. p {c['p_independence']:.2f})"


def against_har(forecasters: dict, sign: int) -> list[str]:
    """The forecasters whose QLIKE differs from HAR's in this direction (-1 better, +1 worse),
    significantly (Diebold–Mariano at ALPHA)."""
    return [n for n, s in forecasters.items() if n != "har"
            and s["qlike_vs_har"]["estimate"] * sign > 0 and s["qlike_vs_har"]["p_value"] < ALPHA]


def horizon_verdicts(h: dict) -> list[str]:
    """Whether anything beat HAR (QLIKE, Diebold–Mariano at 5 %), and where VaR coverage is
    rejected (Kupiec or Christoffersen's conditional coverage at 5 %)."""
    forecasters = h["forecasters"]
    better, worse = against_har(forecasters, -1), against_har(forecasters, +1)
    lines = [f"- Beats HAR on QLIKE (Diebold–Mariano, p < {ALPHA}): {', '.join(better) or 'none'}; "
             f"worse than HAR: {', '.join(worse) or 'none'}."]
    for level in ("0.95", "0.99"):
        rejected = [n for n, s in forecasters.items()
                    if s["var"][level]["kupiec"]["p_value"] < ALPHA
                    or s["var"][level]["christoffersen"]["p_conditional_coverage"] < ALPHA]
        lines.append(f"- VaR {float(level):.0%} coverage rejected at 5 % (Kupiec or conditional coverage) for: "
                     f"{', '.join(rejected) or 'none'}.")
    return lines


def served_wording(saved: dict) -> list[str]:
    """What the graph serves, and whether anything here beat it beyond the many tests made."""
    tests = [(name, horizon, n, s["qlike_vs_har"]) for name, r in saved["result"].items()
             for horizon, h in r["horizons"].items() for n, s in h["forecasters"].items() if n != "har"]
    better = [(name, horizon, n, t) for name, horizon, n, t in tests if t["estimate"] < 0 and t["p_value"] < ALPHA]
    survivors = [b for b in better if b[3]["p_value"] < ALPHA / len(tests)]
    line = ("**What the graph serves:** HAR-RV with these windows, fitted by `investiq train-volatility` on the "
            "training part of the bars it is given; another forecaster (the PatchTST model) replaces it only "
            "through the promotion gate, which refuses one whose test QLIKE is above HAR's. ")
    if not better:
        return [line + "Nothing here beat HAR significantly, so HAR is the best forecaster found.", ""]
    listed = ", ".join(f"{n} on {name} over {horizon} bars (p {t['p_value']:.3f})" for name, horizon, n, t in better)
    verdict = ("none survives" if not survivors else
               "still beats HAR: " + ", ".join(f"{n} on {name}/{h}" for name, h, n, _ in survivors))
    return [line + f"Here {listed} beat HAR at p < {ALPHA}, among {len(tests)} tests against HAR; with "
            f"Bonferroni over them (p < {ALPHA / len(tests):.4f}) {verdict}, so the graph serves HAR there too.", ""]


def volatility_section(saved: dict, out_dir: Path) -> list[str]:
    setups = saved["result"]
    lines = ["## Volatility, walk-forward on real bars", "", provenance(saved), "",
             "Each forecaster predicts the variance of the next *h* bars at test origins one horizon apart, fitted "
             "on everything before its fold (4 folds over the last 40 %). Target: the sum of daily Parkinson range "
             "variances (daily bars) or of squared 5-minute returns within the session (intraday: a day's first bar "
             "from its own open, so the overnight gap is left out). QLIKE (RV/F − ln RV/F − 1) is the "
             "loss that ranks forecasters correctly on a noisy proxy; brackets are 95 % moving-block bootstrap "
             "intervals (Politis–White block). `vs HAR` is the mean QLIKE difference with a Diebold–Mariano HAC "
             "test (< 0: better than HAR). Mincer–Zarnowitz: RV = a + b F (b = 1 for an unbiased scale). VaR, as "
             "the graph serves it: the forecast volatility times the empirical quantile of the training part's "
             "returns divided by the forecast (filtered historical simulation); the breach rate with Kupiec's test "
             "and Christoffersen's independence test. `patchtst` is the PatchTST volatility model (`investiq train-volatility`), trained per fold on "
             "the bars before it, on the measure the target sums. GARCH reads close-to-close returns, so on daily "
             "bars it is rescaled onto the range target by the mean ratio on its training origins. The return "
             "whose VaR is scored runs close to close, overnight gap included.", "", *served_wording(saved)]
    fig, axes = plt.subplots(1, len(setups), figsize=(4.6 * len(setups), 3.6), squeeze=False)
    for k, (name, r) in enumerate(setups.items()):
        lines += [f"### {name}", "", f"{r['bars']} bars {r['first_bar'][:16]} → {r['last_bar'][:16]}; test from "
                  f"{r['test_first_bar'][:16]}.", ""]
        for horizon, h in r["horizons"].items():
            rows = [[n, f"{s['qlike']:.3f} [{s['qlike_ci'][0]:.3f}, {s['qlike_ci'][1]:.3f}]",
                     f"{s['log_mse']:.3f} [{s['log_mse_ci'][0]:.3f}, {s['log_mse_ci'][1]:.3f}]",
                     dm_wording(s.get("qlike_vs_har")),
                     f"{s['mincer_zarnowitz']['intercept']:.2e}, {s['mincer_zarnowitz']['slope']:.2f}",
                     var_wording(s["var"]["0.95"]), var_wording(s["var"]["0.99"])]
                    for n, s in sorted(h["forecasters"].items(), key=lambda item: item[1]["qlike"])]
            lines += [f"Horizon {horizon} bars, {h['origins']} test origins (bootstrap block {h['bootstrap_block']}):",
                      "", *table(["forecaster", "QLIKE", "log MSE", "vs HAR (QLIKE)", "MZ a, b",
                                   "VaR 95 % breaches", "VaR 99 % breaches"], rows), "", *horizon_verdicts(h), ""]
        first = next(iter(r["horizons"].values()))
        plotted, ax = first["plotted"], axes[0][k]
        other = best_other(first["forecasters"])
        ax.plot(np.asarray(plotted["target"]), color="grey", lw=0.5, label="realised")
        ax.plot(np.asarray(plotted["har"]), lw=0.9, label="HAR")
        ax.plot(np.asarray(plotted[other]), lw=0.9, label=other)
        ax.set_yscale("log")
        ax.set_title(f"{name}, h = {next(iter(r['horizons']))}")
        ax.set_xlabel("test origin")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "volatility_forecasts.png", dpi=110)
    plt.close(fig)
    return lines + ["![forecast against realised variance](volatility_forecasts.png)", ""]


def volatility_summary(saved: dict) -> list[str]:
    """One line per setup and horizon: HAR's QLIKE and what, if anything, beat it."""
    lines = []
    for name, r in saved["result"].items():
        for horizon, h in r["horizons"].items():
            f = h["forecasters"]
            better = against_har(f, -1)
            beaten = ", ".join(f"{n} ({f[n]['qlike']:.3f})" for n in better)
            lines.append(f"- Volatility, {name}, {horizon} bars: HAR QLIKE {f['har']['qlike']:.3f}; "
                         + (f"beaten by {beaten}" if better else "nothing beats it significantly") + ".")
    return lines

