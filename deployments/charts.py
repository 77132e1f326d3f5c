"""The operator page's charts, drawn on the server as inline SVG: the page needs no script and
no network (an operator's browser may have neither), hovering a mark shows its figures
(SVG <title>), and each chart says how many data marks it drew (`data-marks`), so a test can
tell a drawn chart from an empty one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH = 560
COLOURS = {"BUY": "#1a7f37", "SELL": "#cf222e", "HOLD": "#6e7781", "up": "#1a7f37", "down": "#cf222e"}
INK, GRID = "#24292f", "#d0d7de"


@dataclass(frozen=True)
class Interval:
    """One row of an interval chart: a value in [0, 1] with its interval and a note beside it."""

    label: str
    value: float
    low: float
    high: float
    note: str = ""


def _svg(title: str, height: float, marks: int, body: list[str]) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" data-marks="{marks}" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, colour: str = INK) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}">'
            f"{escape(text)}</text>")


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = GRID, width: float = 1, dash: bool = False) -> str:
    dashes = ' stroke-dasharray="4 3"' if dash else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"{dashes}/>')


def _dot(x: float, y: float, r: float, colour: str, tip: str) -> str:
    """A data mark, with its figures on hover."""
    return (f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>")


def _key(x: float, y: float, colour: str, text: str) -> str:
    """A legend entry: a swatch and its name."""
    return f'<circle cx="{x:.1f}" cy="{y - 4:.1f}" r="4" fill="{colour}"/>' + _text(x + 8, y, text)


def interval_chart(title: str, rows: list[Interval], reference: float | None = None) -> str:
    """Rows on a [0, 1] axis: a dot at the value, a bar over its interval, and a dashed line at
    `reference` (a coin's hit rate, say)."""
    left, right, top, row_h = 170, 120, 8, 26
    plot, height = WIDTH - left - right, top + row_h * len(rows) + 28

    def x(v: float) -> float:
        return left + plot * min(max(v, 0.0), 1.0)

    bottom = top + row_h * len(rows)
    body = [item for t in (0, 0.25, 0.5, 0.75, 1) for item in
            (_line(x(t), top, x(t), bottom), _text(x(t), bottom + 16, f"{t:g}", "middle"))]
    if reference is not None:
        body.append(_line(x(reference), top, x(reference), bottom, INK, dash=True))
    for i, r in enumerate(rows):
        y = top + row_h * (i + 0.5)
        body += [_text(left - 8, y + 4, r.label, "end"), _line(x(r.low), y, x(r.high), y, "#0969da", 3),
                 _dot(x(r.value), y, 4.5, "#0550ae", f"{r.label}: {r.value:.3f} [{r.low:.3f}, {r.high:.3f}] {r.note}"),
                 _text(WIDTH - right + 8, y + 4, r.note)]
    return _svg(title, height, len(rows), body)


def reliability_chart(title: str, series: dict[str, list[dict]]) -> str:
    """Forecast probability against the observed frequency (bins of `forecast`, `observed`,
    `n`), one series per class; dots sized by count; on the diagonal is calibrated."""
    left, top, side = 50, 10, 260
    height = top + side + 40

    def x(v: float) -> float:
        return left + side * v

    def y(v: float) -> float:
        return top + side * (1 - v)

    body = [item for t in (0, 0.25, 0.5, 0.75, 1) for item in
            (_line(x(t), y(0), x(t), y(1)), _line(x(0), y(t), x(1), y(t)),
             _text(x(t), y(0) + 16, f"{t:g}", "middle"), _text(left - 6, y(t) + 4, f"{t:g}", "end"))]
    body += [_line(x(0), y(0), x(1), y(1), INK, dash=True), _text(x(0.5), height - 4, "forecast probability", "middle"),
             f'<text x="12" y="{y(0.5):.0f}" font-size="11" transform="rotate(-90 12 {y(0.5):.0f})" '
             f'text-anchor="middle" fill="{INK}">observed frequency</text>']
    largest = max((b["n"] for bins in series.values() for b in bins), default=1)
    marks = 0
    for k, (name, bins) in enumerate(series.items()):
        colour = COLOURS.get(name, "#8250df")
        points = " ".join(f"{x(b['forecast']):.1f},{y(b['observed']):.1f}" for b in bins)
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        body += [_dot(x(b["forecast"]), y(b["observed"]), 2.5 + 5 * math.sqrt(b["n"] / largest), colour,
                      f"P({name}) {b['forecast']:.3f}: happened {b['observed']:.3f} of {b['n']}") for b in bins]
        body.append(_key(x(1) + 30, top + 16 + 18 * k, colour, f"P({name})"))
        marks += len(bins)
    return _svg(title, height, marks, body)


def score_timeline(title: str, points: list[tuple[str, float, str]]) -> str:
    """Scores in time order (oldest left), one dot per (label, score, decision), coloured by
    decision, on a symmetric axis as wide as the largest |score|."""
    left, top, plot_h = 64, 10, 120
    height, plot_w = top + plot_h + 30, WIDTH - left - 20
    span = max([abs(s) for _, s, _ in points] + [1e-3])

    def y(v: float) -> float:
        return top + plot_h * (1 - (v + span) / (2 * span))

    body = [item for t in (-span, 0.0, span) for item in
            (_line(left, y(t), left + plot_w, y(t), INK if t == 0 else GRID), _text(left - 6, y(t) + 4, f"{t:+.3g}", "end"))]
    step = plot_w / max(len(points) - 1, 1)
    body += [_dot(left + step * i, y(score), 4, COLOURS.get(decision, INK), f"{label}: {decision} {score:+.4f}")
             for i, (label, score, decision) in enumerate(points)]
    body += [_key(left + 10 + 70 * k, height - 4, COLOURS[d], d) for k, d in enumerate(("BUY", "HOLD", "SELL"))]
    return _svg(title, height, len(points), body)


def forecast_chart(title: str, points: list[tuple[str, float, float]]) -> str:
    """Forecast against realised variance, (label, forecast, realised) each, on log axes (they
    span orders of magnitude) over the same range; on the diagonal is a perfect forecast.
    Points that are not positive and finite cannot be drawn on log axes and are left out."""
    points = [(label, f, r) for label, f, r in points if 0 < f < math.inf and 0 < r < math.inf]
    left, top, side = 64, 10, 260
    height = top + side + 40
    logs = [math.log10(v) for _, f, r in points for v in (f, r)] or [0.0]
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    high = max(high, low + 1)

    def at(v: float) -> float:
        return (math.log10(max(v, 10.0 ** low)) - low) / (high - low)

    body = [item for e in range(low, high + 1) for t in [(e - low) / (high - low)] for item in
            (_line(left + side * t, top, left + side * t, top + side), _line(left, top + side * (1 - t), left + side,
                                                                               top + side * (1 - t)),
             _text(left + side * t, top + side + 16, f"1e{e}", "middle"), _text(left - 6, top + side * (1 - t) + 4,
                                                                                f"1e{e}", "end"))]
    body += [_line(left, top + side, left + side, top, INK, dash=True),
             _text(left + side / 2, height - 4, "forecast variance", "middle"),
             f'<text x="12" y="{top + side / 2:.0f}" font-size="11" transform="rotate(-90 12 {top + side / 2:.0f})" '
             f'text-anchor="middle" fill="{INK}">realised variance</text>']
    body += [_dot(left + side * at(f), top + side * (1 - at(r)), 3, "#0550ae",
                  f"{label}: forecast {f:.3g}, realised {r:.3g}") for label, f, r in points]
    return _svg(title, height, len(points), body)
