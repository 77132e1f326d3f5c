"""What a bar model checks of a request's bars before it reads them: enough bars, the spacing
and the session it was trained on. Each failure is an InvalidInput naming the field (422)."""

from __future__ import annotations

from deployments.errors import InvalidInput
from models.bar_spacing import bar_spacing_error
from models.session import session_error


def check_bars(bars: dict, min_bars: int, bar_interval_s: float | None, session: str | None, kind: str) -> None:
    if len(bars["close"]) < min_bars:
        raise InvalidInput(f"bars has {len(bars['close'])} bars; this {kind} model needs at least {min_bars}",
                           ("bars",))
    for error in (bar_spacing_error(bars["timestamps"], bar_interval_s), session_error(bars["timestamps"], session)):
        if error:
            raise InvalidInput(error, ("bars", "timestamps"))
