"""Holds the current graph version; readers take one version for a whole request."""

from __future__ import annotations

from .model import LinkGraph


class GraphStore:
    """The graph being served. ``current`` is swapped whole, never edited in place."""

    def __init__(self, graph: LinkGraph | None = None):
        self.current = graph

    @property
    def ready(self) -> bool:
        return self.current is not None

    def swap(self, graph: LinkGraph) -> None:
        self.current = graph
