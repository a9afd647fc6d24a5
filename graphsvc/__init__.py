"""graphsvc: a GraphQL link-graph service for news articles."""

__version__ = "0.1.0"
