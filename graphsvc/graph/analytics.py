"""Per-article analytics over the RELATED links: degree, PageRank, Louvain clusters.

PageRank and clusters are computed once per graph (on first use) and kept in the
graph's ``_cache``; a new graph version starts afresh. Degree is read off the
adjacency directly, which is cheaper than any cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import networkx as nx

from .errors import BoundError
from .model import ARTICLE, RELATED, LinkGraph

SEED = 42
MAX_CLUSTERS_PAGE = 1000
#: networkx's Louvain is pure Python: about a minute for 50k linked articles on one core
#: here, four minutes for 200k. Past this, clusters are refused with a clear error.
MAX_CLUSTER_ARTICLES = 50_000

_LOCK = threading.RLock()  # one computation at a time; each result is cached per graph


def related_view(lg: LinkGraph) -> nx.DiGraph:
    """A read-only view of the articles and the RELATED links among them (no copy)."""
    ck = ("analytics.related_view",)
    view = lg._cache.get(ck)
    if view is None:
        g = lg.g
        nodes, succ = g._node, g._succ
        view = nx.subgraph_view(
            g,
            filter_node=lambda n: nodes[n]["kind"] == ARTICLE,
            filter_edge=lambda u, v: succ[u][v]["kind"] == RELATED,
        )
        lg._cache[ck] = view
    return view


def degree(lg: LinkGraph, key: str) -> int:
    """RELATED links of an article, in and out (a link each way counts twice).

    This is networkx's ``degree`` of the article in the directed RELATED graph.

    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", kind="RELATED", rank=0); g.add_edge("a", "topic:x", kind="TAGGED")
    >>> degree(LinkGraph(g, {}, []), "a"), degree(LinkGraph(g, {}, []), "b")
    (1, 1)
    """
    g = lg.g
    return sum(1 for a in g._succ[key].values() if a["kind"] == RELATED) + sum(
        1 for a in g._pred[key].values() if a["kind"] == RELATED
    )


def ready(lg: LinkGraph, name: str) -> bool:
    """Whether ``name`` (``pagerank``, ``clusters``, ``cluster_of``) is computed already."""
    return ("analytics", name) in lg._cache


def _cached(lg: LinkGraph, name: str, compute):
    ck = ("analytics", name)
    value = lg._cache.get(ck)
    if value is None:
        with _LOCK:
            value = lg._cache.get(ck)
            if value is None:
                value = compute()
                lg._cache[ck] = value
    return value


def pagerank(lg: LinkGraph) -> dict[str, float]:
    """networkx's PageRank (alpha 0.85) of every article over the directed RELATED graph.

    A related link is a vote for the article it names. Cached per graph.

    >>> g = nx.DiGraph()
    >>> for u, v in [("a", "c"), ("b", "c")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> for n in g:
    ...     g.nodes[n]["kind"] = "ARTICLE"
    >>> pr = pagerank(LinkGraph(g, {}, []))
    >>> max(pr, key=pr.get), round(sum(pr.values()), 6)
    ('c', 1.0)
    """
    return _cached(lg, "pagerank", lambda: nx.pagerank(related_view(lg)))


@dataclass(slots=True)
class Cluster:
    """A community of articles: ``members`` by PageRank, highest first (then URL)."""

    id: int
    members: list[str]

    @property
    def size(self) -> int:
        return len(self.members)


def clusters(lg: LinkGraph) -> list[Cluster]:
    """Louvain communities of the undirected RELATED graph of articles, largest first.

    networkx's ``louvain_communities`` with seed 42. Ids are stable for a graph:
    clusters are numbered from 0 by size (largest first), then by their smallest
    URL. An article without related links is a cluster of its own. Cached per graph.

    >>> g = nx.DiGraph()
    >>> for u, v in [("a", "b"), ("b", "c"), ("c", "a"), ("x", "y")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> for n in g:
    ...     g.nodes[n]["kind"] = "ARTICLE"
    >>> [(c.id, sorted(c.members)) for c in clusters(LinkGraph(g, {}, []))]
    [(0, ['a', 'b', 'c']), (1, ['x', 'y'])]
    """

    def compute():
        undirected = related_view(lg).to_undirected(as_view=True)
        linked = sum(1 for k in undirected if undirected._adj[k])
        if linked > MAX_CLUSTER_ARTICLES:
            raise BoundError(
                f"clusters are computed for at most {MAX_CLUSTER_ARTICLES} linked articles "
                f"(this graph has {linked}): networkx's Louvain would take minutes"
            )
        communities = nx.community.louvain_communities(undirected, seed=SEED)
        pr = pagerank(lg)
        ordered = sorted(communities, key=lambda c: (-len(c), min(c)))
        return [
            Cluster(i, sorted(c, key=lambda k: (-pr.get(k, 0.0), k))) for i, c in enumerate(ordered)
        ]

    return _cached(lg, "clusters", compute)


def cluster_of(lg: LinkGraph) -> dict[str, int]:
    """Each article's cluster id (see :func:`clusters`). Cached per graph."""

    def compute():
        return {k: c.id for c in clusters(lg) for k in c.members}

    return _cached(lg, "cluster_of", compute)
