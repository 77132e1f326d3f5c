"""Model logic, free of Ray: sentiment, strategy weights and price direction.

Importing this package is cheap on purpose: replicas that need no torch (ingress,
strategies) must not pay for it.
"""

DEFAULT_SENTIMENT_MODEL = "ProsusAI/finbert"
