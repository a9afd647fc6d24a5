"""Chains: shortest paths of related links between two articles."""

from __future__ import annotations

from ..errors import check_bound
from .adjacency import predecessors, successors
from .model import RELATED, LinkGraph

MAX_CHAIN = 10


def shortest_chain(
    lg: LinkGraph, source: str, target: str, max_length: int = 6, directed: bool = False
) -> list[str] | None:
    """Shortest chain of RELATED edges from ``source`` to ``target`` (node keys).

    A bidirectional breadth-first search that gives up once no chain of at most
    ``max_length`` hops can exist, so far-apart pairs cost no more than the bound.
    ``directed`` follows links only as published; otherwise either way.
    Returns the keys from source to target, or None.

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> for u, v in [("a", "b"), ("c", "b"), ("c", "d")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> lg = LinkGraph(g, {}, [])
    >>> shortest_chain(lg, "a", "d"), shortest_chain(lg, "a", "d", directed=True)
    (['a', 'b', 'c', 'd'], None)
    >>> shortest_chain(lg, "a", "d", max_length=2) is None
    True
    """
    check_bound("maxLength", max_length, 1, MAX_CHAIN)
    if source == target:
        return [source]
    succ, pred = successors(lg.g), predecessors(lg.g)
    # Inline loops over networkx's adjacency dicts, the visited test before the edge-kind
    # test (most neighbours of a frontier are already known): this is the hot loop.
    fwd_adjs = (succ,) if directed else (succ, pred)
    bwd_adjs = (pred,) if directed else (succ, pred)
    parents: dict[str, str | None] = {source: None}
    children: dict[str, str | None] = {target: None}
    fwd, bwd = [source], [target]
    hops = 0
    while fwd and bwd and hops < max_length:
        hops += 1
        if len(fwd) <= len(bwd):
            seen, other, adjs, frontier = parents, children, fwd_adjs, fwd
        else:
            seen, other, adjs, frontier = children, parents, bwd_adjs, bwd
        nxt = []
        for u in frontier:
            for adj in adjs:
                for v, a in adj[u].items():
                    if v in seen or a["kind"] != RELATED:
                        continue
                    seen[v] = u
                    if v in other:
                        return _join(parents, children, v)
                    nxt.append(v)
        if frontier is fwd:
            fwd = nxt
        else:
            bwd = nxt
    return None


def _join(parents: dict, children: dict, meet: str) -> list[str]:
    path = []
    n = meet
    while n is not None:
        path.append(n)
        n = parents[n]
    path.reverse()
    n = children[meet]
    while n is not None:
        path.append(n)
        n = children[n]
    return path


def chain_edges(lg: LinkGraph, path: list[str]) -> list[tuple[str, str, str, int | None]]:
    """The edges along a chain, each as stored (source, target, kind, rank): the related
    links between its articles, and the article → hub edge at a provider or topic end
    (a chain of :func:`graphsvc.graph.drawing.hub_chain`).

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", kind="RELATED", rank=0)
    >>> g.add_edge("c", "b", kind="RELATED", rank=1)
    >>> g.add_edge("c", "topic:x", kind="TAGGED")
    >>> chain_edges(LinkGraph(g, {}, []), ["a", "b", "c", "topic:x"])
    [('a', 'b', 'RELATED', 0), ('c', 'b', 'RELATED', 1), ('c', 'topic:x', 'TAGGED', None)]
    """
    g = lg.g
    out = []
    for u, v in zip(path, path[1:], strict=False):
        s, t = (u, v) if g.has_edge(u, v) else (v, u)
        if g.has_edge(u, v) and g.has_edge(v, u) and g.edges[u, v]["kind"] != RELATED:
            s, t = v, u
        e = g.edges[s, t]
        out.append((s, t, e["kind"], e.get("rank")))
    return out
