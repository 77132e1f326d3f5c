"""The graph's records: signals, predictions, strategy outcomes, promotions (see store.store)."""

from store.store import Store

__all__ = ["Store"]
