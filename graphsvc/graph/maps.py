"""What a drawn map needs beyond a neighbourhood: where to start, a layout, node sizes."""

from __future__ import annotations

from dataclasses import dataclass

from .layout import SPRING, positions
from .model import RELATED, LinkGraph
from .query import RELATED_COUNT_DESC, ArticleQuery, find_articles
from .traverse import BOTH, Subgraph, neighborhood


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
    succ, pred = lg.g._succ, lg.g._pred
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
