"""How far behind its store a replica is, for ``/metrics`` (Prometheus).

``graphsvc_store_connected`` (1/0), ``graphsvc_store_version`` (the newest version known
to be in the store), ``graphsvc_store_applied_version`` (the last one this replica
applied), ``graphsvc_store_lag_versions`` (the difference) and
``graphsvc_store_disconnected_seconds`` (how long the connection has been lost; 0 when
connected). No label or value carries the store's address or credentials.
"""

from __future__ import annotations

import time

from prometheus_client.core import GaugeMetricFamily

from .feed import StoreFeed


class StoreCollector:
    def __init__(self, source: StoreFeed):
        self.source = source

    def collect(self):
        s = self.source.status()
        down = (
            0.0
            if s.connected or s.disconnected_since is None
            else time.time() - s.disconnected_since
        )
        for name, doc, value in (
            (
                "graphsvc_store_connected",
                "1 while the replica is connected to its store.",
                s.connected,
            ),
            (
                "graphsvc_store_version",
                "The newest store version this replica knows of.",
                s.store_version,
            ),
            ("graphsvc_store_applied_version", "The last store version applied here.", s.applied),
            ("graphsvc_store_lag_versions", "Store versions not yet applied here.", s.lag),
            (
                "graphsvc_store_disconnected_seconds",
                "Seconds since the store was lost (0: connected).",
                down,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))

    def describe(self):
        return []


def register(source: StoreFeed, registry) -> StoreCollector:
    """Add the store's gauges to ``registry`` (the server's, ``graphsvc.api.ops.REGISTRY``)."""
    collector = StoreCollector(source)
    registry.register(collector)
    return collector
