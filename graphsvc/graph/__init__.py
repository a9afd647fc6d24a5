"""Records -> graph: the networkx link graph, its indexes and algorithms.

Nothing here knows about GraphQL.
"""

from .build import build_graph
from .derived import Stats
from .model import (
    ARTICLE,
    EDGE_KINDS,
    PROVIDER,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    TOPIC,
    Article,
    LinkGraph,
    Provider,
    Topic,
)
from .urls import canonical_url

__all__ = [
    "ARTICLE",
    "EDGE_KINDS",
    "PROVIDER",
    "PUBLISHED_BY",
    "RELATED",
    "TAGGED",
    "TOPIC",
    "Article",
    "LinkGraph",
    "Provider",
    "Stats",
    "Topic",
    "build_graph",
    "canonical_url",
]
