"""The operator page (`GET /operator`): are the signals any good, and what is being served?

Read-only. It asks the Ledger for what the store already holds (recent signals, settled
price predictions and risk forecasts scored as `/v1/evaluate` scores them, strategy
posteriors, the model-load log)
and the Price and Volatility deployments for their registries' promotion decisions, and draws them on the
server (deployments.charts), so the page is one self-contained HTML document: no script,
no CDN. A branch that does not answer costs its section only, which says so. With an empty
store every section says what to do to fill it.

The page is a list of sections (`SECTIONS`), each a function of the gathered `View`; a new
panel is one more function there and, if it needs data, one more call in `gather`.
Behind the API key when the ingress has one: browsers send it as HTTP Basic auth (any user
name, the key as password) after the 401 asks for it; scripts may send `X-API-Key`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

from fastapi import HTTPException, Request
from ray.serve.handle import DeploymentHandle

from deployments.branch_call import BranchResult, call_branch
from deployments.charts import Interval, forecast_chart, interval_chart, reliability_chart, score_timeline
from deployments.http import authorize
from deployments.schemas import EvaluationResponse, ReadinessResponse
from models.direction import CLASSES
from training.scoring import reliability_bins

DAY_S = 24 * 3600.0
RECENT_SIGNALS = 50  # on the chart
SIGNAL_ROWS = 20  # in the table, newest first
RECENT_LOADS = 30
MAX_PREDICTIONS = 20_000  # settled predictions read for the calibration curves
CALIBRATION_BINS = 10
FIRST_SIGNAL = ("investiq request --symbol QQQ --bars ../shared/data/stocks/daily/QQQ_1d_splitadj.csv --session all "
                "> /tmp/signal.json && curl -s localhost:8000/v1/signal -H 'content-type: application/json' "
                "-d @/tmp/signal.json")


def sent_key(request: Request) -> str | None:
    """The key from `X-API-Key`, else the password of HTTP Basic auth (what a browser sends)."""
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode().partition(":")[2]
    except (ValueError, UnicodeDecodeError):
        return None


def authorize_page(request: Request, expected: str | None) -> None:
    """401 without the key, asking a browser for it (Basic auth: the key is the password)."""
    try:
        authorize(sent_key(request), expected)
    except HTTPException as exc:
        exc.headers = {"WWW-Authenticate": 'Basic realm="InvestIQ operator page"'}
        raise


@dataclass
class Quality:
    """One symbol's settled predictions: the Ledger's evaluation and calibration per model version."""

    symbol: str
    evaluation: BranchResult  # EvaluationResponse when it answered
    calibration: dict[str, dict[str, list[dict]]]  # version -> class -> reliability bins
    variances: dict[tuple[str, int], list[tuple[str, float, float]]]  # (version, horizon) -> (when, forecast, realised)


@dataclass
class View:
    days: float
    at: float
    readiness: ReadinessResponse
    signals: BranchResult  # newest first
    predictions: BranchResult
    risks: BranchResult
    strategies: BranchResult
    loads: BranchResult
    decisions: BranchResult  # the price registry's
    volatility_decisions: BranchResult
    quality: list[Quality]


def settled_variances(rows: list[dict]) -> dict[tuple[str, int], list[tuple[str, float, float]]]:
    """Settled risk forecasts per (model version, horizon): each bar once, its latest forecast."""
    latest: dict[tuple[str, int, float], dict] = {}
    for row in reversed(rows):  # oldest first, so the latest forecast of a bar wins
        if row["realised_variance"] is not None:
            latest[(row["model_version"], row["horizon"], row["as_of"])] = row
    out: dict[tuple[str, int], list[tuple[str, float, float]]] = {}
    for (version, horizon, as_of), row in sorted(latest.items()):
        out.setdefault((version, horizon), []).append((_when(as_of), row["variance"], row["realised_variance"]))
    return out


def calibration(rows: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """Reliability bins of P(up) and P(down) per model version over settled predictions, each
    bar counted once with its latest forecast (as the Ledger's evaluation counts it)."""
    latest: dict[tuple[str, float], dict] = {}
    for row in reversed(rows):  # oldest first, so the latest forecast of a bar wins
        if row["realised"] is not None:
            latest[(row["model_version"], row["as_of"])] = row
    by_version: dict[str, list[dict]] = {}
    for (version, _), row in latest.items():
        by_version.setdefault(version, []).append(row)
    return {version: {c: reliability_bins([r[f"p_{c}"] for r in group], [r["realised"] == c for r in group],
                                          CALIBRATION_BINS) for c in CLASSES if c != "flat"}
            for version, group in by_version.items()}


async def gather(ledger: DeploymentHandle, price: DeploymentHandle, volatility: DeploymentHandle,
                 readiness: ReadinessResponse, days: float, budget_s: float) -> View:
    """Everything the page shows, asked for at once, each answer under `budget_s`."""
    since = time.time() - days * DAY_S
    calls = {
        "signals": lambda: ledger.recent_rows.remote("signals", RECENT_SIGNALS),
        "predictions": lambda: ledger.recent_rows.remote("price_predictions", MAX_PREDICTIONS, since),
        "risks": lambda: ledger.recent_rows.remote("risk_predictions", MAX_PREDICTIONS, since),
        "strategies": ledger.strategy_weights.remote,
        "loads": lambda: ledger.recent_rows.remote("model_promotions", RECENT_LOADS),
        "decisions": price.registry_decisions.remote,
        "volatility_decisions": volatility.registry_decisions.remote,
    }
    results = dict(zip(calls, await asyncio.gather(*(call_branch(send, budget_s) for send in calls.values()))))
    rows, risks = results["predictions"].value or [], results["risks"].value or []
    symbols = sorted({r["symbol"] for r in rows if r["realised"] is not None}
                     | {r["symbol"] for r in risks if r["realised_variance"] is not None})
    evaluations = await asyncio.gather(*(call_branch(lambda s=s: ledger.evaluate.remote(s, days), budget_s)
                                         for s in symbols))
    quality = [Quality(s, e, calibration([r for r in rows if r["symbol"] == s]),
                       settled_variances([r for r in risks if r["symbol"] == s])) for s, e in zip(symbols, evaluations)]
    return View(days=days, at=time.time(), readiness=readiness, quality=quality, **results)


# ---- rendering --------------------------------------------------------------------------


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _table(head: list[str], rows: list[list[str]], cls: str) -> str:
    """Cells are HTML already (escape text before)."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _unavailable(what: str, result: BranchResult) -> str:
    return (f'<p class="warn">{escape(what)} could not be read: {escape(result.reason or "")}. '
            "Check the branch in the health section above, then reload.</p>")


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def health(view: View) -> str:
    rows = [[escape(name), escape(b.state), escape(f"{b.model_id}@{b.version}" if b.model_id else b.version or ""),
             escape(b.reason or "")] for name, b in view.readiness.branches.items()]
    return (f"<h2>Health: {escape(view.readiness.status)}</h2>"
            + _table(["branch", "state", "serving", "note"], rows, "health"))


def recent_signals(view: View) -> str:
    out = ["<h2>Recent signals</h2>"]
    if not view.signals.ok:
        return "".join(out) + _unavailable("Signals", view.signals)
    signals = view.signals.value
    if not signals:
        return "".join(out) + _empty(f"No signals recorded yet. Send one: <code>{escape(FIRST_SIGNAL)}</code>")
    oldest_first = signals[::-1]
    out.append(score_timeline(f"Score of the last {len(signals)} signals, oldest left",
                              [(f"{_when(s['created_at'])} {s['symbol']}", s["score"], s["decision"])
                               for s in oldest_first]))
    rows = []
    for s in signals[:SIGNAL_ROWS]:
        components = s["components"] or {}
        why = components.get("not_actionable_because") or []
        rows.append([escape(_when(s["created_at"])), escape(s["symbol"]),
                     f'<span class="{escape(s["decision"])}">{escape(s["decision"])}</span>',
                     f"{s['score']:+.4f}", _actionable(why),
                     escape(", ".join(components.get("degraded") or []) or "none"),
                     "<br>".join(escape(f"{k} {v}") for k, v in (s["model_versions"] or {}).items())])
    out.append(f"<p>The newest {len(rows)}, newest first:</p>" + _table(
        ["time (UTC)", "symbol", "decision", "score", "actionable", "degraded", "versions"], rows, "signals"))
    return "".join(out)


def _actionable(why: list[str]) -> str:
    """"yes", or "no" with each reason's head (the text before its first colon); the whole
    reasons on hover."""
    if not why:
        return "yes"
    heads = "; ".join(reason.split(":")[0] for reason in why)
    return f'<span title="{escape("; ".join(why))}">no: {escape(heads)}</span>'


def _ic(scores) -> str:
    ic = scores.information_coefficient
    if ic is None or ic.ic is None:
        return "IC: not enough settled predictions with a score"
    t = f" (HAC t {ic.ic_t:+.2f})" if ic.ic_t is not None else " (too few per lag for a t)"
    rank = f", rank IC {ic.rank_ic:+.3f}" if ic.rank_ic is not None else ""
    return f"IC {ic.ic:+.3f}{t}{rank}"


def quality(view: View) -> str:
    out = [f"<h2>Signal quality, settled predictions of the last {view.days:g} days</h2>"]
    if not view.predictions.ok:
        return "".join(out) + _unavailable("Predictions", view.predictions)
    if not view.quality:
        return "".join(out) + _empty(
            "No settled price predictions in this window. A prediction settles when the bars after it arrive: "
            "POST them to <code>/v1/price/realised</code> (the README's Routes show how), then reload.")
    for q in view.quality:
        if not q.evaluation.ok:
            out.append(f"<h3>{escape(q.symbol)}</h3>" + _unavailable("Its evaluation", q.evaluation))
            continue
        evaluation: EvaluationResponse = q.evaluation.value
        for version, scores in evaluation.by_model_version.items():  # none for a symbol with risk forecasts only
            out.append(f'<div class="card"><h3>{escape(q.symbol)}: {escape(version)}</h3><p>{scores.n} settled '
                       f"({evaluation.unsettled} waiting for their bars); accuracy {scores.accuracy:.3f}; Brier "
                       f"{scores.brier:.4f} against {scores.brier_base_rate:.4f} for the window's own class "
                       f"frequencies; {escape(_ic(scores))}.</p>")
            buckets = [Interval(f"|score| {b.min_confidence:.3g}-{b.max_confidence:.3g}", b.hit_rate, *b.hit_rate_ci,
                                f"n={b.n}") for b in scores.hit_rate_by_confidence]
            out.append(interval_chart("Hit rate by confidence bucket (95 % Wilson), a coin at 0.5", buckets, 0.5)
                       if buckets else _empty("No calls with a non-zero score yet, so no hit rate by confidence."))
            out.append(reliability_chart("Calibration: forecast probability against how often it happened",
                                         q.calibration.get(version, {})) + "</div>")
    return "".join(out)


def _breaches(b) -> str:
    kupiec = "" if b.kupiec_p is None else f" (Kupiec p {b.kupiec_p:.2f})"
    return f"{b.breaches} of {b.n}, {b.rate:.1%}{kupiec}"


def volatility(view: View) -> str:
    out = [f"<h2>Volatility forecasts, settled in the last {view.days:g} days</h2>"]
    if not view.risks.ok:
        return "".join(out) + _unavailable("Risk forecasts", view.risks)
    shown = [q for q in view.quality if q.evaluation.ok and q.evaluation.value.volatility_by_model_version]
    if not shown:
        return "".join(out) + _empty(
            "No settled risk forecasts in this window. A forecast settles when the bars after it arrive: POST them "
            "to <code>/v1/price/realised</code>, then reload.")
    for q in shown:
        evaluation: EvaluationResponse = q.evaluation.value
        for version, horizons in evaluation.volatility_by_model_version.items():
            rows = [[str(h.horizon), str(h.n), f"{h.qlike:.3f}",
                     "–" if h.qlike_har is None else f"{h.qlike_har:.3f}", _breaches(h.var_95), _breaches(h.var_99)]
                    for h in horizons]
            out.append(f'<div class="card"><h3>{escape(q.symbol)}: {escape(version)}</h3>'
                       f"<p>{evaluation.volatility_unsettled} forecasts wait for their bars. QLIKE: lower is better, "
                       "0 for a perfect forecast; HAR's is its forecast at the same bars. VaR breaches: a 95 % VaR "
                       "should be breached about 5 % of the time, a 99 % one about 1 %.</p>"
                       + _table(["horizon (bars)", "settled", "QLIKE", "HAR's QLIKE", "VaR 95 % breaches",
                                 "VaR 99 % breaches"], rows, "risk")
                       + "".join(forecast_chart(f"Horizon {h.horizon} bars: forecast against realised variance",
                                                q.variances.get((version, h.horizon), [])) for h in horizons)
                       + "</div>")
    return "".join(out)


def strategies(view: View) -> str:
    out = ["<h2>Strategy posteriors</h2>"]
    if not view.strategies.ok:
        return "".join(out) + _unavailable("Strategy posteriors", view.strategies)
    weights = view.strategies.value
    posteriors = weights.strategies
    if not any(p.outcomes for p in posteriors):
        out.append(_empty("No strategy outcomes in the window yet. Record them with "
                          "<code>POST /v1/strategies/outcomes</code> (the README's Routes show how)."))
    if posteriors:
        out.append(interval_chart(f"Win rate, {weights.credible_level:.0%} credible interval; P(best) beside",
                                  [Interval(p.strategy, p.mean, p.lower, p.upper,
                                            f"P(best) {p.probability_best:.2f}, n={p.outcomes}") for p in posteriors]))
    return "".join(out)


def promotions(view: View) -> str:
    out = ["<h2>Promotions and model loads</h2><h3>Registry decisions (with the gate's reasons)</h3>"]
    rows = []
    for branch, decisions in (("price", view.decisions), ("volatility", view.volatility_decisions)):
        if not decisions.ok:
            out.append(_unavailable(f"The {branch} registry's decisions", decisions))
            continue
        for d in reversed(decisions.value):
            gate = d.get("gate")
            reasons = d.get("reasons") or ([d["reason"]] if d.get("reason") else [])
            rows.append([escape(d.get("time", "")), branch, escape(d.get("action", "")), escape(str(d.get("version"))),
                         escape(str(d.get("previous", ""))), "yes" if gate is not None else "",
                         escape("; ".join(reasons))])
    if rows:
        rows.sort(key=lambda row: row[0], reverse=True)
        out.append(_table(["time (UTC)", "registry", "action", "version", "previous", "gate figures", "why"], rows,
                          "decisions"))
    elif view.decisions.ok and view.volatility_decisions.ok:
        out.append(_empty("No decisions: the served models are not from a registry, or nothing was promoted yet "
                          "(the embedded defaults are served until something is)."))
    out.append("<h3>Model loads (the store's log)</h3>")
    if not view.loads.ok:
        out.append(_unavailable("The model-load log", view.loads))
    elif not view.loads.value:
        out.append(_empty("No model loads logged yet."))
    else:
        rows = [[escape(_when(r["at"])), escape(r["deployment"]), escape(f"{r['model_id']}@{r['version']}"
                                                                         if r["model_id"] else ""),
                 escape(r["outcome"]), escape(r["error"] or r["source"])] for r in view.loads.value]
        out.append(_table(["time (UTC)", "branch", "model", "outcome", "source or error"], rows, "loads"))
    return "".join(out)


SECTIONS = (health, recent_signals, quality, volatility, strategies, promotions)
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;color:#24292f;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:12px 0 4px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f6f8fa}.BUY{color:#1a7f37;font-weight:600}.SELL{color:#cf222e;font-weight:600}
.HOLD{color:#6e7781;font-weight:600}.empty{color:#57606a;font-style:italic}.warn{color:#9a6700}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:10px 0}
.card svg{margin-right:12px;vertical-align:top}code{background:#f6f8fa;padding:1px 4px;font-size:12px}
nav a{margin-right:10px}
"""


def render(view: View) -> str:
    links = " ".join(f'<a href="?days={d:g}">{d:g} days</a>' for d in (1, 7, 30, 365))
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<link rel="icon" href="data:,"><title>InvestIQ operator page</title>'
            f"<style>{STYLE}</style></head><body><h1>InvestIQ operator page</h1>"
            f"<p>Read-only, as of {_when(view.at)} UTC. Window: the last {view.days:g} days. <nav>{links}</nav></p>"
            + "".join(f'<section id="{s.__name__}">{s(view)}</section>' for s in SECTIONS) + "</body></html>")


async def operator_page(ledger: DeploymentHandle, price: DeploymentHandle, volatility: DeploymentHandle,
                        readiness: ReadinessResponse, days: float, budget_s: float) -> str:
    return render(await gather(ledger, price, volatility, readiness, days, budget_s))
