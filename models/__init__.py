"""Model logic, free of Ray: sentiment, strategy weights and price direction."""
