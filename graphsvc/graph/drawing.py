"""What a drawn map needs beyond a neighbourhood: where to start, a layout, node sizes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UnknownURL, check_bound
from .adjacency import node_attrs, predecessors, successors
from .chains import MAX_CHAIN
from .layout import SPRING, positions
from .model import ARTICLE, RELATED, LinkGraph
from .query import RELATED_COUNT_DESC, ArticleQuery, find_articles
from .traverse import BOTH, Subgraph, neighborhood

HUB_KINDS = frozenset(("PUBLISHED_BY", "TAGGED"))


class UnknownNode(UnknownURL):
    """Neither an article URL nor a provider or topic key."""

    def __init__(self, ref: str):
        super().__init__(ref)
        self.args = (
            f"unknown article URL or node key: {ref!r} (providers are provider:<domain>, "
            "topics topic:<name in lower case>)",
        )

    def __str__(self) -> str:
        return self.args[0]


@dataclass(slots=True)
class Drawing:
    """A neighbourhood with coordinates in [-1, 1] and each node's degree."""

    centre: str
    sub: Subgraph
    pos: dict[str, tuple[float, float]]
    degree: dict[str, int]  # edges of the drawn kinds at the node, in the whole graph


def locate(lg: LinkGraph, ref: str) -> str | None:
    """The node ``ref`` names: an article by any of its URLs, or a node key as is
    (``provider:<domain>``, ``topic:<name>``); None when nothing matches."""
    key = lg.resolve(ref)
    if key is None and ref in lg.g:
        key = ref
    return key


def featured_article(lg: LinkGraph) -> str | None:
    """The article with the most related links (ties: first URL); None when there is none."""
    keys = find_articles(lg, order=RELATED_COUNT_DESC)
    return keys[0] if keys else None


def degrees(lg: LinkGraph, keys: list[str], edge_kinds: tuple[str, ...]) -> dict[str, int]:
    """Edges of ``edge_kinds`` at each of ``keys`` (in or out), counted in the whole graph."""
    kinds = frozenset(edge_kinds)
    succ, pred = successors(lg.g), predecessors(lg.g)
    return {
        k: sum(1 for a in succ[k].values() if a["kind"] in kinds)
        + sum(1 for a in pred[k].values() if a["kind"] in kinds)
        for k in keys
    }


def drawing(
    lg: LinkGraph,
    centre: str,
    depth: int = 2,
    edge_kinds: tuple[str, ...] = (RELATED,),
    limit: int = 150,
    layout: str = SPRING,
) -> Drawing:
    """The neighbourhood of ``centre`` (a node key) either way along ``edge_kinds``,
    laid out by ``layout`` with a fixed seed: the same request draws the same map.

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", kind="RELATED", rank=0); g.add_edge("c", "a", kind="RELATED", rank=0)
    >>> d = drawing(LinkGraph(g, {}, []), "a", depth=1)
    >>> sorted(d.pos) == ["a", "b", "c"], d.degree
    (True, {'a': 2, 'b': 1, 'c': 1})
    """
    sub = neighborhood(lg, [centre], depth, BOTH, edge_kinds, limit)
    keys = [k for k, _ in sub.nodes]
    return Drawing(centre, sub, positions(sub, layout), degrees(lg, keys, edge_kinds))


def search_articles(lg: LinkGraph, text: str, first: int = 20) -> list[str]:
    """Articles whose title or excerpt contains ``text`` (any case): title matches
    first, each group most related links first; at most ``first``."""
    needle = text.strip().casefold()
    if not needle:
        return []
    found = find_articles(lg, ArticleQuery(text=needle), RELATED_COUNT_DESC)
    in_title = [k for k in found if needle in (lg.data(k).title or "").casefold()]
    if len(in_title) < first:
        seen = set(in_title)
        in_title += [k for k in found if k not in seen]
    return in_title[:first]


def require_node(lg: LinkGraph, ref: str) -> str:
    """:func:`locate`, or :class:`UnknownURL` naming ``ref``: an article by any of its URLs,
    a provider as ``provider:<domain>``, a topic as ``topic:<name in lower case>``."""
    key = locate(lg, ref)
    if key is None:
        raise UnknownNode(ref)
    return key


def hub_chain(
    lg: LinkGraph, source: str, target: str, max_length: int = 6, directed: bool = False
) -> list[str] | None:
    """The shortest chain between node keys when one end (or both) is a provider or topic.

    A hub's first hop is to one of its articles (its PUBLISHED_BY or TAGGED edges); from
    there the chain follows related links (either way unless ``directed``), and it may end
    on ``target`` from any article of that hub. Breadth first, at most ``max_length`` hops
    in all (the hub hops count). Returns the keys from ``source`` to ``target``, or None.

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", kind="RELATED", rank=0)
    >>> g.add_edge("a", "topic:x", kind="TAGGED")
    >>> g.add_edge("b", "provider:p", kind="PUBLISHED_BY")
    >>> for n in g:
    ...     g.nodes[n]["kind"] = "ARTICLE" if ":" not in n else n.split(":")[0].upper()
    >>> hub_chain(LinkGraph(g, {}, []), "topic:x", "provider:p")
    ['topic:x', 'a', 'b', 'provider:p']
    >>> hub_chain(LinkGraph(g, {}, []), "topic:x", "b", max_length=1) is None
    True
    """
    check_bound("maxLength", max_length, 1, MAX_CHAIN)
    if source == target:
        return [source]
    succ, pred, nodes = successors(lg.g), predecessors(lg.g), node_attrs(lg.g)
    parent: dict[str, str | None] = {source: None}
    frontier = [source]
    for _ in range(max_length):
        nxt = []
        for u in frontier:
            steps: Iterable[str]
            if nodes[u]["kind"] != ARTICLE:  # a hub: its articles
                steps = (a for a, e in pred[u].items() if e["kind"] in HUB_KINDS)
            else:
                out = (v for v, e in succ[u].items() if e["kind"] == RELATED)
                back = () if directed else (v for v, e in pred[u].items() if e["kind"] == RELATED)
                hub = (
                    (target,) if target in succ[u] and succ[u][target]["kind"] in HUB_KINDS else ()
                )
                steps = (*out, *back, *hub)
            for v in steps:
                if v in parent:
                    continue
                parent[v] = u
                if v == target:
                    path = [v]
                    p = parent[v]
                    while p is not None:
                        path.append(p)
                        p = parent[p]
                    return path[::-1]
                if nodes[v]["kind"] == ARTICLE:
                    nxt.append(v)
        frontier = nxt
        if not frontier:
            break
    return None
