"""The one module of ours that reaches into networkx's private adjacency.

networkx keeps a ``DiGraph`` as three dicts: ``_node`` (node → attributes),
``_succ`` (node → {successor → edge attributes}) and ``_pred`` (the reverse). Its public
views (``G.succ``, ``G.pred``, ``G.nodes``) wrap them in a new view object at every
access, which costs more than the work in our hot loops (a list's columns, a walk over
1M articles). The graph layer reads the dicts through these functions instead, so
networkx's internals are named here and nowhere else; callers treat what they return as
read-only, and change the graph only through :func:`link` and networkx's own methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

Attrs = dict[str, Any]


def successors(g: nx.DiGraph) -> Mapping[str, Mapping[str, Attrs]]:
    """node → {successor → edge attributes}: the graph's out-edges (read-only)."""
    return g._succ


def predecessors(g: nx.DiGraph) -> Mapping[str, Mapping[str, Attrs]]:
    """node → {predecessor → edge attributes}: the graph's in-edges (read-only)."""
    return g._pred


def node_attrs(g: nx.DiGraph) -> Mapping[str, Attrs]:
    """node → its attribute dict (read-only as a mapping; membership tests are O(1))."""
    return g._node


def link(g: nx.DiGraph, u: str, v: str, attrs: Attrs) -> None:
    """Add the edge ``u → v`` sharing ``attrs`` (both nodes must exist): what
    ``add_edge`` does, minus a new dict per edge."""
    g._succ[u][v] = attrs
    g._pred[v][u] = attrs
