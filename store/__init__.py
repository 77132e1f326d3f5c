"""The graph's records: signals, predictions, strategy outcomes, promotions (see store.store)."""
