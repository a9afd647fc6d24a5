"""The one module of ours that reaches into networkx's private adjacency.

networkx keeps a ``DiGraph`` as three dicts: ``_node`` (node → attributes),
``_succ`` (node → {successor → edge attributes}) and ``_pred`` (the reverse). Its public
views (``G.succ``, ``G.pred``, ``G.nodes``) wrap them in a new view object at every
access, which costs more than the work in our hot loops (a list's columns, a walk over
1M articles). The graph layer reads the dicts through these functions instead, so
networkx's internals are named here and nowhere else; callers treat what they return as
read-only, and change the graph only through :func:`link` and networkx's own methods.

networkx's type stubs (types-networkx) leave these private tables out: each use below
carries a targeted ``type: ignore[attr-defined]``, here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

Attrs = dict[str, Any]


def successors(g: nx.DiGraph) -> Mapping[str, Mapping[str, Attrs]]:
    """node → {successor → edge attributes}: the graph's out-edges (read-only)."""
    return g._succ  # type: ignore[attr-defined]


def predecessors(g: nx.DiGraph) -> Mapping[str, Mapping[str, Attrs]]:
    """node → {predecessor → edge attributes}: the graph's in-edges (read-only)."""
    return g._pred  # type: ignore[attr-defined]


def node_attrs(g: nx.DiGraph) -> Mapping[str, Attrs]:
    """node → its attribute dict (read-only as a mapping; membership tests are O(1))."""
    return g._node  # type: ignore[attr-defined]


def link(g: nx.DiGraph, u: str, v: str, attrs: Attrs) -> None:
    """Add the edge ``u → v`` sharing ``attrs`` (both nodes must exist): what
    ``add_edge`` does, minus a new dict per edge."""
    g._succ[u][v] = attrs  # type: ignore[attr-defined]
    g._pred[v][u] = attrs  # type: ignore[attr-defined]


def graph_tables(g: nx.DiGraph) -> tuple[Mapping[str, Attrs], Mapping, Mapping]:
    """``g``'s node, successor and predecessor tables, for a copy-on-write writer that
    shares them with the next version (read-only: the writer copies what it changes)."""
    return g._node, g._succ, g._pred  # type: ignore[attr-defined]


def graph_over_tables(
    nodes: Mapping[str, Attrs], succ: Mapping, pred: Mapping, graph: Attrs | None = None
) -> nx.DiGraph:
    """A ``DiGraph`` whose node, successor and predecessor tables are the ones given
    (persistent maps, say), not copies; ``graph``: its graph-level attributes."""
    g: nx.DiGraph[str] = nx.DiGraph()
    if graph is not None:
        g.graph = graph
    g._node, g._succ, g._pred = nodes, succ, pred  # type: ignore[attr-defined]
    g._adj = g._succ  # type: ignore[attr-defined]
    return g
