"""Data, training and (later) tuning of the price model; free of Serve."""
