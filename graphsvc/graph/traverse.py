"""Neighbourhoods: the part of the graph around one or more nodes, ready to draw."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import BoundError, check_bound
from .adjacency import node_attrs, predecessors, successors
from .model import EDGE_KINDS, PROVIDER, RELATED, TOPIC, LinkGraph

HUB_KINDS = frozenset((PROVIDER, TOPIC))
MAX_DEPTH = 5
MAX_LIMIT = 5000
OUT, IN, BOTH = "OUT", "IN", "BOTH"


@dataclass(slots=True)
class Subgraph:
    """Nodes as (key, distance) in visiting order; edges as (source, target, kind, rank)."""

    nodes: list[tuple[str, int]]
    edges: list[tuple[str, str, str, int | None]]
    truncated: bool


def _steps(lg: LinkGraph, direction: str):
    succ, pred = successors(lg.g), predecessors(lg.g)
    if direction == OUT:
        return (succ,)
    if direction == IN:
        return (pred,)
    if direction == BOTH:
        return (succ, pred)
    raise BoundError(f"direction must be OUT, IN or BOTH (got {direction!r})")


def neighborhood(
    lg: LinkGraph,
    centres: list[str],
    depth: int = 1,
    direction: str = BOTH,
    edge_kinds: tuple[str, ...] = (RELATED,),
    limit: int = 500,
    hub_cap: int | None = None,
    hub_order: Callable[[LinkGraph, str], Iterable[str]] | None = None,
) -> Subgraph:
    """Breadth-first neighbourhood of ``centres`` (node keys), at most ``limit`` nodes.

    Follows edges of ``edge_kinds`` out of (OUT), into (IN) or either way from (BOTH)
    each node. The edges returned are all edges of those kinds among the nodes
    returned. ``truncated`` is true when ``limit`` stopped the walk early.

    With ``hub_cap``, a provider or topic node adds at most that many new nodes, taking
    its articles in ``hub_order(lg, hub)`` (default: as stored); see
    ``explore.map_subgraph``, which reports what the cap left out.

    >>> from graphsvc.graph.model import LinkGraph
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", kind="RELATED", rank=0); g.add_edge("b", "c", kind="RELATED", rank=0)
    >>> sub = neighborhood(LinkGraph(g, {}, []), ["a"], depth=1)
    >>> sub.nodes, sub.edges, sub.truncated
    ([('a', 0), ('b', 1)], [('a', 'b', 'RELATED', 0)], False)
    """
    check_bound("depth", depth, 0, MAX_DEPTH)
    check_bound("limit", limit, 1, MAX_LIMIT)
    kinds = frozenset(edge_kinds)
    if not kinds <= set(EDGE_KINDS):
        raise BoundError(f"edge kinds must be among {', '.join(EDGE_KINDS)}")
    adjs = _steps(lg, direction)
    dist: dict[str, int] = {}
    for c in centres:
        if c not in dist:
            if len(dist) >= limit:
                break
            dist[c] = 0
    truncated = len(dist) < len(set(centres))
    frontier = list(dist)
    nodes, pred = node_attrs(lg.g), predecessors(lg.g)
    d = 0
    while frontier and d < depth and not truncated:
        d += 1
        nxt = []
        for u in frontier:
            cap = hub_cap if nodes[u].get("kind") in HUB_KINDS else None  # None: not capped
            taken = 0
            for adj in adjs:
                row = adj[u]
                members = hub_order(lg, u) if cap is not None and hub_order and adj is pred else row
                for v in members:
                    if v in dist or row[v]["kind"] not in kinds:
                        continue
                    if cap is not None and taken >= cap:
                        break
                    if len(dist) >= limit:
                        truncated = True
                        break
                    dist[v] = d
                    nxt.append(v)
                    taken += 1
                if truncated:
                    break
            if truncated:
                break
        frontier = nxt
    succ = successors(lg.g)
    edges = [
        (u, v, a["kind"], a.get("rank"))
        for u in dist
        for v, a in succ[u].items()
        if v in dist and a["kind"] in kinds
    ]
    return Subgraph(list(dist.items()), edges, truncated)
