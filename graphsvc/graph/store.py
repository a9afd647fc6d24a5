"""Holds the current graph version; readers take one version for a whole request."""

from __future__ import annotations

import gc

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
        if gc.get_freeze_count():
            # The server froze the first graph out of the collector's sight (gc.freeze);
            # frozen objects are never collected, and a graph holds reference cycles, so
            # let the old one go and freeze the new one instead (one full collection).
            gc.unfreeze()
            gc.collect()
            gc.freeze()
