"""The store's errors, importable without the database drivers and migrations behind them."""

from __future__ import annotations


class Conflict(ValueError):
    """A request id or outcome id reused for other content; `loc` names the field."""

    def __init__(self, message: str, loc: tuple):
        super().__init__(message)
        self.loc = tuple(loc)

    def __reduce__(self):  # keep `loc` when Ray pickles the exception
        return (type(self), (str(self), self.loc))
