"""Errors that cross deployment boundaries, as types: the ingress maps each onto an HTTP
status or a degraded-branch category without reading their messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from store.errors import Conflict  # a request id or outcome id reused for other content: 409

T = TypeVar("T")

__all__ = ["Conflict", "InvalidInput", "ModelNotReady", "dotted", "each_or_refusal", "one_line", "root_cause"]


class ModelNotReady(RuntimeError):
    """The branch has no usable model (still loading, missing or failed); the message says what to do."""


class InvalidInput(ValueError):
    """Input the schema could not check alone (it depends on the model); `loc` names the field."""

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = tuple(loc)

    def __reduce__(self):  # keep `loc` when Ray pickles the exception
        return (type(self), (str(self), self.loc))


async def each_or_refusal(answers: Iterable[Awaitable[T]]) -> list[T | InvalidInput]:
    """Every answer, concurrently, each in its place, or the InvalidInput it raised: one refused
    item of a batch (a watchlist's symbol) is returned for the caller to name, not raised over
    its neighbours' answers."""
    async def one(answer: Awaitable[T]) -> T | InvalidInput:
        try:
            return await answer
        except InvalidInput as exc:
            return exc

    return list(await asyncio.gather(*(one(a) for a in answers)))


def dotted(loc: tuple | list) -> str:
    """("signals", 1, "outcomes", 0) as the client wrote it: signals[1].outcomes[0]."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def root_cause(exc: BaseException) -> BaseException:
    """The user exception behind Ray's RayTaskError wrapper, if any."""
    return getattr(exc, "cause", None) or exc


def one_line(exc: BaseException) -> str:
    cause = root_cause(exc)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}".strip()
