"""Exploring around articles: maps of several articles with capped hubs, the k shortest
chains between two articles, and reading lists.

Every function here does work bounded by its arguments, not by the size of the graph:
no whole-graph copies, no unbounded searches.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

import networkx as nx

from ..errors import BoundError, check_bound
from .adjacency import node_attrs, predecessors, successors
from .chains import MAX_CHAIN, shortest_chain
from .layout import positions
from .model import ARTICLE, RELATED, LinkGraph
from .traverse import BOTH, HUB_KINDS, MAX_LIMIT, Subgraph, _steps, neighborhood

DEFAULT_HUB_CAP = 50
MAX_CENTRES = 100

MAX_K = 10
#: Articles the k-shortest-chains search may look at (both ends together).
MAX_CHAIN_AREA = 200_000

QUALITY, RECENCY = "QUALITY", "RECENCY"
READING_ORDERS = (QUALITY, RECENCY)
MAX_READING = 100


# -- maps: multi-centre neighbourhoods with capped hubs ------------------------------
@dataclass(slots=True)
class HubCut:
    """A provider or topic whose neighbours were not all drawn.

    ``total`` counts its neighbours over the edge kinds and directions walked,
    ``shown`` those in the subgraph; ``omitted`` is the rest.
    """

    key: str
    total: int
    shown: int

    @property
    def omitted(self) -> int:
        return self.total - self.shown


@dataclass(slots=True)
class MapSubgraph(Subgraph):
    """A :class:`Subgraph` that also says what hub caps and ``limit`` left out.

    ``hubs`` lists each hub the walk was to pass through (distance < depth) that has
    neighbours not drawn, most omitted first. ``limited`` is true when ``limit``
    stopped the walk. ``truncated`` is true when either left anything out.
    """

    hubs: list[HubCut] = field(default_factory=list)
    limited: bool = False

    @property
    def omitted(self) -> int:
        """Hub links left out: the sum of every hub's omitted neighbours."""
        return sum(h.omitted for h in self.hubs)


def _newest_first(lg: LinkGraph):
    nodes = node_attrs(lg.g)

    def key(k: str):
        p = getattr(nodes[k].get("data"), "published_at", None)
        return (p is None, -p.timestamp() if p else 0.0, k)

    return key


def hub_members(lg: LinkGraph, hub: str) -> list[str]:
    """The nodes linking to ``hub`` (its articles), newest first then by URL; cached.

    The first call for a hub sorts its members once per graph; later calls are free.
    """
    out = lg.derived.hub_members.get(hub)
    if out is None:
        out = sorted(predecessors(lg.g)[hub], key=_newest_first(lg))
        lg.derived.hub_members[hub] = out
    return out


def _kind_counts(lg: LinkGraph, node: str, side: str) -> Counter:
    """Edge kinds of ``node``'s out- (``succ``) or in- (``pred``) edges; cached for hubs."""
    ck = (node, side)
    out = lg.derived.kind_counts.get(ck)
    if out is None:
        adj = successors(lg.g) if side == "succ" else predecessors(lg.g)
        out = Counter(a["kind"] for a in adj[node].values())
        lg.derived.kind_counts[ck] = out
    return out


def map_subgraph(
    lg: LinkGraph,
    centres: list[str],
    depth: int = 1,
    direction: str = BOTH,
    edge_kinds: tuple[str, ...] = (RELATED,),
    limit: int = 500,
    hub_cap: int = DEFAULT_HUB_CAP,
) -> MapSubgraph:
    """The union of the neighbourhoods of ``centres`` (node keys), hubs capped.

    A breadth-first walk like :func:`traverse.neighborhood`, with one difference: from a
    provider or topic node it takes at most ``hub_cap`` new nodes (newest articles
    first, then by URL), so a topic linking thousands of articles adds ``hub_cap`` of
    them. Nodes reached otherwise still count: the cap limits only what a hub adds.
    At most ``limit`` nodes in all. Distances are from the nearest centre; edges are all
    edges of ``edge_kinds`` among the nodes returned. Work is bounded by
    ``limit`` and ``hub_cap``, never by the size of the graph.

    >>> g = nx.DiGraph()
    >>> g.add_edge("a0", "a1", kind="RELATED", rank=0)
    >>> for i in range(5):
    ...     g.add_node(f"a{i}", kind="ARTICLE")
    ...     g.add_edge(f"a{i}", "topic:ai", kind="TAGGED")
    >>> g.nodes["topic:ai"]["kind"] = "TOPIC"
    >>> sub = map_subgraph(LinkGraph(g, {}, []), ["a0"], depth=2,
    ...                    edge_kinds=("RELATED", "TAGGED"), hub_cap=2)
    >>> [k for k, _ in sub.nodes], sub.truncated, sub.omitted
    (['a0', 'a1', 'topic:ai', 'a2', 'a3'], True, 1)
    >>> sub.hubs
    [HubCut(key='topic:ai', total=5, shown=4)]
    """
    check_bound("hubCap", hub_cap, 0, MAX_LIMIT)
    if not centres:
        raise BoundError("give at least one article URL")
    check_bound("number of URLs", len(centres), 1, MAX_CENTRES)
    sub = neighborhood(
        lg, centres, depth, direction, edge_kinds, limit, hub_cap=hub_cap, hub_order=hub_members
    )
    dist = dict(sub.nodes)
    hubs = _hub_cuts(lg, dist, depth, _steps(lg, direction), frozenset(edge_kinds), sub.edges)
    return MapSubgraph(sub.nodes, sub.edges, sub.truncated or bool(hubs), hubs, sub.truncated)


def _hub_cuts(lg, dist, depth, adjs, kinds, edges) -> list[HubCut]:
    nodes = node_attrs(lg.g)
    succ, pred = successors(lg.g), predecessors(lg.g)
    hubs = [u for u, du in dist.items() if du < depth and nodes[u]["kind"] in HUB_KINDS]
    if not hubs:
        return []
    sides = [("succ" if adj is succ else "pred") for adj in adjs]
    shown: dict[str, set[str]] = {h: set() for h in hubs}
    for u, v, _, _ in edges:
        if "succ" in sides and u in shown:
            shown[u].add(v)
        if "pred" in sides and v in shown:
            shown[v].add(u)
    cuts = []
    for h in hubs:
        total = 0
        for side in sides:
            counts = _kind_counts(lg, h, side)
            total += sum(n for k, n in counts.items() if k in kinds)
        if len(sides) == 2:  # a node both before and after h counts once
            both = succ[h].keys() & pred[h].keys()
            total -= sum(
                1 for v in both if succ[h][v]["kind"] in kinds and pred[h][v]["kind"] in kinds
            )
        if total > len(shown[h]):
            cuts.append(HubCut(h, total, len(shown[h])))
    cuts.sort(key=lambda c: (-c.omitted, c.key))
    return cuts


LAYOUT_CACHE_SIZE = 64
_LAYOUT_LOCK = threading.Lock()


def layout_positions(lg: LinkGraph, sub: Subgraph, method: str) -> dict[str, tuple[float, float]]:
    """:func:`layout.positions` of ``sub``, remembered for the last few subgraphs drawn.

    The same request draws the same picture either way (fixed seed); the cache, kept
    per graph, saves recomputing it when a page asks again.

    >>> g = nx.DiGraph(); g.add_edge("a", "b", kind="RELATED", rank=0)
    >>> lg = LinkGraph(g, {}, [])
    >>> sub = Subgraph([("a", 0), ("b", 1)], [("a", "b", "RELATED", 0)], False)
    >>> layout_positions(lg, sub, "CIRCULAR") is layout_positions(lg, sub, "CIRCULAR")
    True
    """
    ck = (method, tuple(sub.nodes), tuple(sub.edges))
    with _LAYOUT_LOCK:
        cache = lg.derived.layouts
        pos = cache.get(ck)
        if pos is not None:
            cache.move_to_end(ck)
            return pos
    pos = positions(sub, method)
    with _LAYOUT_LOCK:
        cache[ck] = pos
        while len(cache) > LAYOUT_CACHE_SIZE:
            cache.popitem(last=False)
    return pos


# -- k shortest chains ------------------------------------------------------------
def _related_adj(lg: LinkGraph, adjs):
    def steps(u):
        for adj in adjs:
            for v, a in adj[u].items():
                if a["kind"] == RELATED:
                    yield v

    return steps


def _bounded_bfs(steps, start: str, radius: int, admit, budget: list[int], bound: str):
    """Distances from ``start``; past ``radius`` only nodes ``admit(node, d)`` accepts."""
    dist = {start: 0}
    frontier = [start]
    d = 0
    while frontier:
        d += 1
        nxt = []
        for u in frontier:
            for v in steps(u):
                if v in dist or not (d <= radius or admit(v, d)):
                    continue
                dist[v] = d
                nxt.append(v)
                budget[0] -= 1
                if budget[0] < 0:
                    raise BoundError(
                        f"{bound}: more than {MAX_CHAIN_AREA} articles lie within reach; "
                        "use a smaller maxLength"
                    )
        frontier = nxt
    return dist


def chain_area(
    lg: LinkGraph, src: str, dst: str, max_length: int, directed: bool = False
) -> set[str]:
    """Every article on some chain of at most ``max_length`` RELATED links src -> dst.

    Those are the nodes ``v`` with ``d(src, v) + d(v, dst) <= max_length``. Each of
    them is within ``max_length // 2`` of one end, so two breadth-first balls of that
    radius, each extended only into the other, find them all: the cost is the size of
    two balls of half the radius, not of the graph. Raises :class:`BoundError` past
    ``MAX_CHAIN_AREA`` articles.

    >>> g = nx.DiGraph()
    >>> for u, v in [("a", "b"), ("b", "c"), ("a", "x"), ("x", "y"), ("y", "c"), ("c", "z")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> sorted(chain_area(LinkGraph(g, {}, []), "a", "c", 2))
    ['a', 'b', 'c']
    >>> sorted(chain_area(LinkGraph(g, {}, []), "a", "c", 3))
    ['a', 'b', 'c', 'x', 'y']
    """
    succ, pred = successors(lg.g), predecessors(lg.g)
    fwd = _related_adj(lg, (succ,) if directed else (succ, pred))
    bwd = _related_adj(lg, (pred,) if directed else (succ, pred))
    half = max_length // 2
    budget = [MAX_CHAIN_AREA]
    ball_s = _bounded_bfs(fwd, src, half, lambda v, d: False, budget, "chains")
    ball_t = _bounded_bfs(bwd, dst, half, lambda v, d: False, budget, "chains")

    def within(ball):
        def admit(v, d):
            other = ball.get(v)
            return other is not None and other + d <= max_length

        return admit

    ds = _bounded_bfs(fwd, src, half, within(ball_t), budget, "chains")
    dt = _bounded_bfs(bwd, dst, half, within(ball_s), budget, "chains")
    return {v for v, a in ds.items() if v in dt and a + dt[v] <= max_length}


def k_shortest_chains(
    lg: LinkGraph,
    src: str,
    dst: str,
    k: int = 3,
    max_length: int = 6,
    directed: bool = False,
) -> list[list[str]]:
    """The ``k`` shortest simple chains of RELATED links from ``src`` to ``dst``.

    Shortest first (ties in networkx's order), each a list of node keys, none longer
    than ``max_length`` links. Links are followed either way unless ``directed``.
    networkx's ``shortest_simple_paths`` (Yen's algorithm) runs on a view of only the
    articles :func:`chain_area` finds, so every search inside it is bounded by that
    area; ``k <= 10`` and ``max_length <= 10`` bound the rest. No copy of the graph.

    >>> g = nx.DiGraph()
    >>> for u, v in [("a", "b"), ("b", "c"), ("a", "x"), ("x", "y"), ("y", "c"), ("c", "z")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> k_shortest_chains(LinkGraph(g, {}, []), "a", "c", k=3)
    [['a', 'b', 'c'], ['a', 'x', 'y', 'c']]
    >>> k_shortest_chains(LinkGraph(g, {}, []), "c", "a", directed=True)
    []
    """
    check_bound("k", k, 1, MAX_K)
    check_bound("maxLength", max_length, 1, MAX_CHAIN)
    if src == dst:
        return [[src]]
    if shortest_chain(lg, src, dst, max_length, directed) is None:
        return []  # cheap bidirectional check first
    area = chain_area(lg, src, dst, max_length, directed)
    g = lg.g
    succ = successors(g)
    view = nx.subgraph_view(
        g,
        filter_node=area.__contains__,
        filter_edge=lambda u, v: succ[u][v]["kind"] == RELATED,
    )
    if not directed:
        view = view.to_undirected(as_view=True)
    out: list[list[str]] = []
    for path in nx.shortest_simple_paths(view, src, dst):
        if len(path) - 1 > max_length:
            break
        out.append(path)
        if len(out) >= k:
            break
    return out


# -- reading lists ------------------------------------------------------------------
def _reading_key(lg: LinkGraph, by: str):
    data = lg.data

    def quality(key):
        a = data(key)
        q, p = a.quality, a.published_at
        return (q is None, -(q or 0.0), p is None, -p.timestamp() if p else 0.0, key)

    def recency(key):
        a = data(key)
        q, p = a.quality, a.published_at
        return (p is None, -p.timestamp() if p else 0.0, q is None, -(q or 0.0), key)

    if by == QUALITY:
        return quality
    if by == RECENCY:
        return recency
    raise BoundError(f"by must be one of {', '.join(READING_ORDERS)} (got {by!r})")


def reading_list(lg: LinkGraph, key: str, length: int = 10, by: str = QUALITY) -> list[str]:
    """Articles to read after ``key``, in reading order: at most ``length``, no repeats.

    The rule, from the current article (at first ``key`` itself, which is not listed):

    1. Among the articles its own related list names (its outgoing RELATED links) that
       are not yet listed, take the best one.
    2. When there is none (the branch ends), take the best of the *nearest* unlisted
       articles: a breadth-first search over RELATED links either way from the
       current article, stopping at the first distance that has any.
    3. Stop when ``length`` articles are listed or nothing unlisted can be reached.

    "Best" is by ``by``: QUALITY = highest quality, then newest, then URL;
    RECENCY = newest ``publishedAt``, then highest quality, then URL (unknown
    values last). Stubs count as articles.

    >>> g = nx.DiGraph()
    >>> for u, v in [("s", "a"), ("s", "b"), ("a", "c"), ("d", "b")]:
    ...     g.add_edge(u, v, kind="RELATED", rank=0)
    >>> from graphsvc.graph.model import Article
    >>> for n, q in {"s": 1, "a": 5, "b": 9, "c": 7, "d": 3}.items():
    ...     g.nodes[n].update(kind="ARTICLE", data=Article(n, {}, [], quality=q))
    >>> reading_list(LinkGraph(g, {}, []), "s")
    ['b', 'd', 'a', 'c']
    """
    check_bound("length", length, 1, MAX_READING)
    best = _reading_key(lg, by)
    succ, pred = successors(lg.g), predecessors(lg.g)
    nodes = node_attrs(lg.g)
    seen = {key}
    out: list[str] = []
    current = key
    while len(out) < length:
        nxt = [v for v, a in succ[current].items() if a["kind"] == RELATED and v not in seen]
        if not nxt:
            nxt = _nearest_unseen(succ, pred, current, seen)
        nxt = [v for v in nxt if nodes[v]["kind"] == ARTICLE]
        if not nxt:
            break
        current = min(nxt, key=best)
        seen.add(current)
        out.append(current)
    return out


def _nearest_unseen(succ, pred, start: str, seen: set[str]) -> list[str]:
    """Unseen nodes at the smallest RELATED distance (either way) from ``start``.

    Only seen nodes are expanded, so the work is bounded by the articles listed so far.
    """
    visited = {start}
    frontier = deque([start])
    while frontier:
        found: list[str] = []
        nxt: deque[str] = deque()
        for u in frontier:
            for adj in (succ, pred):
                for v, a in adj[u].items():
                    if a["kind"] != RELATED or v in visited:
                        continue
                    visited.add(v)
                    if v in seen:
                        nxt.append(v)
                    else:
                        found.append(v)
        if found:
            return found
        frontier = nxt
    return []
