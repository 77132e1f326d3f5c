"""The promotion gate of volatility models, and their way into a registry.

The served forecast must be at least as good as HAR-RV: a candidate passes when, on every
horizon, its mean QLIKE on its own held-out test windows is not above that of HAR fitted on
the same training part (a HAR candidate is that benchmark, and passes). It must also forecast
what production forecasts (horizons, bar interval, session), since the graph's risk block and
its settlement read them. Publishing and promotion then take the price model's path
(training.retrain.publish_decision): the registry records the decision, and with a serve
address the Volatility deployment follows or the promotion is undone.
"""

from __future__ import annotations

from models.har_model import HarVolatilityModel
from models.registry import ModelRegistry
from training.retrain import publish_decision

COMPARABLE = ("horizons", "bar_interval_s", "session")


def qlike_against_har(candidate) -> dict[str, dict]:
    """Per horizon, the candidate's and HAR's mean QLIKE on the candidate's test windows."""
    test = candidate.metadata.extra["metrics"]["test"]
    if isinstance(candidate, HarVolatilityModel):
        return {h: {"candidate": s["forecasters"]["har"]["qlike"], "har": s["forecasters"]["har"]["qlike"]}
                for h, s in test.items()}
    return {h: {"candidate": s["model"]["qlike"], "har": (s.get("har") or {}).get("qlike")}
            for h, s in test.items() if isinstance(s, dict)}  # beside the horizons: the windows' count


def volatility_gate(candidate, production: dict | None) -> tuple[bool, list[str], dict]:
    """(passed, reasons, figures); `production`: the production version's metadata, if any."""
    figures = {"test_qlike": qlike_against_har(candidate)}
    reasons = []
    meta = candidate.metadata
    if production is not None:
        differs = [k for k in COMPARABLE if production.get(k) != getattr(meta, k)]
        if differs:
            reasons.append("forecasts another thing than production (" + ", ".join(
                f"{k} {getattr(meta, k)} vs {production.get(k)}" for k in differs) + ")")
    for horizon, q in figures["test_qlike"].items():
        if q["har"] is None:
            reasons.append(f"{horizon}: no HAR benchmark (training too short to fit it)")
        elif q["candidate"] > q["har"]:
            reasons.append(f"{horizon}: test QLIKE {q['candidate']:.4f} above HAR's {q['har']:.4f}")
    if reasons:
        return False, reasons, figures
    what = "the candidate is HAR itself" if isinstance(candidate, HarVolatilityModel) else "not worse than HAR"
    return True, [f"{what} on every horizon's test windows"], figures


def consider_volatility(candidate, registry: ModelRegistry, version: str, promote: bool,
                        serve_address: str | None = None, app: str = "investiq", run_id: str | None = None,
                        tracking_uri: str | None = None) -> dict:
    """Gate, publish as `version` (with the MLflow run it came from, if any), and promote when
    asked and passed; the decision."""
    production_version = registry.production()
    production = registry.metadata(production_version) if production_version else None
    passed, reasons, figures = volatility_gate(candidate, production)
    decision = {"candidate": version, "production_before": production_version, "passed": passed,
                "promoted": passed and promote, "reasons": reasons, "figures": figures, "mlflow_run_id": run_id}
    publish_decision(candidate, registry, version, decision, serve_address, app, tracking_uri)
    return decision
