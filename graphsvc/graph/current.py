"""Holds the current graph version; readers take one version for a whole request."""

from __future__ import annotations

import functools

import networkx as nx

from .model import LinkGraph

# networkx caches its views on the graph (``G.edges``, ``G.degree``...) and some of them
# point back at it: a reference cycle that only the cyclic collector frees.
_VIEWS = tuple(
    name
    for cls in (nx.DiGraph, nx.Graph)
    for name, v in vars(cls).items()
    if isinstance(v, functools.cached_property)
)


def release(graph: LinkGraph) -> None:
    """Let reference counting free ``graph`` once its last reader is done with it.

    Drops the cached views networkx keeps on it (a reader still using the version makes
    them again on first use). Without this, an old version lives until a full
    collection, and a full collection walks every object of the served graph: the
    server freezes the graph out of the collector's sight (``gc.freeze``) so that it
    never has to, and a version that points back at itself would never be freed there.
    """
    d = graph.g.__dict__
    for name in _VIEWS:
        d.pop(name, None)


class GraphStore:
    """The graph being served. ``current`` is swapped whole, never edited in place."""

    def __init__(self, graph: LinkGraph | None = None):
        self.current = graph

    @property
    def ready(self) -> bool:
        return self.current is not None

    def swap(self, graph: LinkGraph | None) -> None:
        old, self.current = self.current, graph
        if old is not None and old is not graph:
            release(old)
