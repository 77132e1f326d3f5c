"""The gRPC API (deployments/proto/signals.proto) as a translation of the HTTP one: a request
becomes the same pydantic body, so it meets the same validation, and an answer is the same
pydantic response, built into its proto twin. Errors keep their meaning: each refusal of the
HTTP routes maps onto one gRPC status, with the field named in the details.

Serve's gRPC proxy registers the service with `add_signal_service`, which hands the ingress
each message as bytes: the ingress decodes it, so a malformed message or a field this version
does not know is INVALID_ARGUMENT (the generated registration would decode in the proxy and
answer UNKNOWN, and protobuf drops unknown fields silently).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet
from pydantic import BaseModel, ValidationError

from deployments.errors import dotted
from deployments.proto import signals_pb2 as pb
from deployments.schemas import SignalRequest, SignalsRequest

SERVICE = pb.DESCRIPTOR.services_by_name["SignalService"]
# What Serve's gRPC proxy loads (`grpc_options.grpc_servicer_functions` in a serve config).
SERVICER = "deployments.grpc_api.add_signal_service"

STATUS_CODES = {
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    409: grpc.StatusCode.ALREADY_EXISTS,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}

BAR_COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


def add_signal_service(servicer, server) -> None:
    """The service's two methods, their messages passed through as bytes (see the module's doc)."""
    handlers = {m.name: grpc.unary_unary_rpc_method_handler(getattr(servicer, m.name)) for m in SERVICE.methods}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))


class RefusedMessage(ValueError):
    """A request the ingress will not read: over the size limit, bytes that do not decode, a
    field this version lacks, or a body pydantic refuses (the message says where)."""


def _unknown_field(message: Message, path: str = "") -> str | None:
    """The first field number the message (or one nested in it) carries that this version lacks."""
    unknown = UnknownFieldSet(message)
    if len(unknown):
        return (f"{path or 'the message'} has field number {unknown[0].field_number}, which this API version "
                f"lacks (or not with that wire type)")
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        children = value if field.is_repeated else [value]
        for i, child in enumerate(children):
            where = f"{path + '.' if path else ''}{field.name}" + (f"[{i}]" if field.is_repeated else "")
            if found := _unknown_field(child, where):
                return found
    return None


def decode(raw: bytes, message_type: type[Message], limit: int) -> Message:
    """The request message from its bytes; RefusedMessage over `limit` bytes, for bytes that
    do not decode, or for a field this version does not know."""
    if len(raw) > limit:
        raise RefusedMessage(f"request over {limit} bytes")
    try:
        message = message_type.FromString(raw)
    except DecodeError as exc:
        raise RefusedMessage(f"not a valid {message_type.DESCRIPTOR.full_name}: {exc}") from None
    if unknown := _unknown_field(message):
        raise RefusedMessage(f"{unknown}: send the fields of deployments/proto/signals.proto")
    return message


def _entry(message) -> dict[str, Any]:
    """One symbol's inputs as the JSON body has them; the bar columns copied whole (a packed
    repeated field converts in C, where json_format would walk every number in Python)."""
    entry = {"symbol": message.symbol, "news": list(message.news),
             "outcomes": [json_format.MessageToDict(o, preserving_proto_field_name=True) for o in message.outcomes]}
    if message.HasField("bars"):
        entry["bars"] = {name: list(getattr(message.bars, name)) for name in BAR_COLUMNS}
    return entry


def _optional(message, body: dict, *names: str) -> dict:
    body.update({name: getattr(message, name) for name in names if message.HasField(name)})
    return body


@dataclass(frozen=True)
class Method:
    """One RPC: its messages, and how its request becomes the HTTP route's pydantic body."""

    request: type[Message]
    response: type[Message]
    body: Callable[[Message], BaseModel]


def _signal_body(message: pb.SignalRequest) -> SignalRequest:
    return SignalRequest.model_validate(_optional(message, _entry(message), "request_id", "shadow"))


def _signals_body(message: pb.SignalsRequest) -> SignalsRequest:
    body = {"signals": [_entry(entry) for entry in message.signals]}
    return SignalsRequest.model_validate(_optional(message, body, "request_id", "shadow"))


SIGNAL = Method(pb.SignalRequest, pb.SignalResponse, _signal_body)
SIGNALS = Method(pb.SignalsRequest, pb.SignalsResponse, _signals_body)


def read_request(raw: bytes, method: Method, limit: int) -> BaseModel:
    """The route's pydantic body from the message's bytes; RefusedMessage naming the field for
    what the HTTP route would refuse (a ValidationError raised later is the server's own fault)."""
    message = decode(raw, method.request, limit)
    try:
        return method.body(message)
    except ValidationError as exc:
        raise RefusedMessage(_details(exc.errors())) from None


def _checked_lists(value: Any) -> Any:
    """`out_of_distribution` is null (not checked) or a list (checked, maybe empty): in proto
    an optional InputShifts message keeps that difference."""
    if isinstance(value, dict):
        return {k: ({"shifts": v} if k == "out_of_distribution" and v is not None else _checked_lists(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_checked_lists(v) for v in value]
    return value


def to_proto(response: BaseModel, message_type):
    """A response as its proto twin, built by protobuf's constructor from nested dicts (in C;
    json_format.ParseDict walks them in Python, several times slower); None leaves an optional
    field unset, and a field the proto lacks raises (it must mirror the JSON)."""
    return message_type(**_checked_lists(response.model_dump(mode="json")))


def field_path(loc: tuple | list) -> str:
    """("body", "signals", 1, "bars", "close", 3) -> signals[1].bars.close[3]."""
    return dotted(loc[1:] if loc and loc[0] == "body" else loc)


MAX_ERRORS = 5  # in a status's details: gRPC refuses metadata over 16 KB (an all-NaN column has 513 errors)


def _details(errors: list[dict]) -> str:
    shown = "; ".join(f"{field_path(e['loc'])}: {e['msg']}" if field_path(e["loc"]) else e["msg"]
                      for e in errors[:MAX_ERRORS])
    return shown + (f"; and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else "")


UNAUTHORIZED = "x-api-key: missing or wrong API key: requests with outcomes need it as x-api-key metadata"


def refusal(exc: Exception) -> tuple[grpc.StatusCode, str] | None:
    """The gRPC status and details of a refusal the HTTP routes would answer with a 4xx; None
    for anything else (the server's fault)."""
    if isinstance(exc, RefusedMessage):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, RequestValidationError):  # what the routes find wrong with the input
        return grpc.StatusCode.INVALID_ARGUMENT, _details(exc.errors())
    if isinstance(exc, HTTPException) and exc.status_code in STATUS_CODES:
        details = UNAUTHORIZED if exc.status_code == 401 else _details(exc.detail)
        return STATUS_CODES[exc.status_code], details
    return None


def api_key(context) -> str | None:
    """The `x-api-key` metadata, as the HTTP routes read the X-API-Key header."""
    return dict(context.invocation_metadata()).get("x-api-key")
