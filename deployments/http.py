"""HTTP plumbing of the ingress: the FastAPI app, its body limit, its error shapes and the
API key. Every input error answers with `detail: [{loc, msg, type}]` naming the field.

(No `from __future__ import annotations` here: FastAPI must see the real parameter types.)
"""

import hmac
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Security
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from deployments.schemas import RequestId, Symbol

app = FastAPI(
    title="InvestIQ signal graph",
    version="1",
    description="One trading signal from news sentiment, strategy weights and price direction.",
)

# Routes that change state (outcomes, sync, realised results) need this header when the
# ingress has a key (`ingress.api_key_env` names the environment variable holding it).
ApiKey = Annotated[str | None, Security(APIKeyHeader(name="X-API-Key", auto_error=False))]

# Query and path parameters carry examples: without them Serve's copy of the app (pickled by
# value, which loses FastAPI's "unset" marker) would publish `"example": {}` for each.
Days = Annotated[float, Query(gt=0, le=3650, openapi_examples={"a week": {"value": 7}})]
RequestIdQuery = Annotated[RequestId | None, Query(openapi_examples={"an id": {"value": "sync-2026-11-21"}})]
SymbolInPath = Annotated[Symbol, PathParam(openapi_examples={"SPY": {"value": "SPY"}})]
DrawQuery = Annotated[bool, Query(openapi_examples={"no draw": {"value": False}})]


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `app.state.max_body_bytes`, declared or streamed."""

    def __init__(self, asgi_app):
        self.app = asgi_app

    async def __call__(self, scope, receive, send):
        # scope["app"] is the app this replica serves (Serve ships a copy of the module's `app`).
        limit = getattr(scope["app"].state, "max_body_bytes", None) if "app" in scope else None
        if scope["type"] != "http" or not limit:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            response = JSONResponse({"detail": _too_large(limit)}, status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body without Content-Length
                raise HTTPException(status_code=413, detail=_too_large(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> list[dict]:
    return [{"loc": ["body"], "msg": f"request body over {limit} bytes", "type": "body_too_large"}]


app.add_middleware(BodySizeLimit)


@app.exception_handler(RequestValidationError)
async def validation_error(_, exc: RequestValidationError) -> JSONResponse:
    """422 with where and what, without echoing the input (NaN cannot be encoded, and news
    texts do not belong in error bodies or logs)."""
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


@app.exception_handler(StarletteHTTPException)
async def http_error(request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI answers a body it cannot decode (e.g. not UTF-8) with a bare 400 string;
    give it the same shape as every other input error, naming the body."""
    if exc.status_code == 400 and isinstance(exc.detail, str):
        detail = [{"loc": ["body"], "msg": f"{exc.detail}: send UTF-8 JSON", "type": "body_decode"}]
        return JSONResponse({"detail": detail}, status_code=400)
    return await http_exception_handler(request, exc)


def field_error(status: int, loc: tuple, msg: str, kind: str) -> HTTPException:
    """An error answer naming the field it is about."""
    return HTTPException(status_code=status, detail=[{"loc": list(loc), "msg": msg, "type": kind}])


def authorize(sent: str | None, expected: str | None) -> None:
    if expected is not None and not hmac.compare_digest((sent or "").encode(), expected.encode()):
        raise field_error(401, ("header", "x-api-key"), "missing or wrong API key: routes that change state need "
                                                       "it in the X-API-Key header", "unauthorized")
