"""GraphQL for maps and exploration: subgraphs ready to draw (``neighbors``,
``subgraph``), chains of related links, reading lists, clusters. Thin resolvers over
graph/traverse.py, graph/explore.py and graph/analytics.py."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import graph as gl
from ..errors import BoundError, check_bound
from ..graph import analytics as ga
from ..graph import chains as gc
from ..graph import drawing as gm
from ..graph import explore as ge
from ..graph import formats as gx
from ..graph import layout as glayout
from ..graph import traverse as gt
from ..graph.layout import SPRING, positions_around
from .context import analytic, graph
from .nodes import Article, global_id
from .version import Version


@strawberry.enum
class NodeKind(Enum):
    ARTICLE = gl.ARTICLE
    PROVIDER = gl.PROVIDER
    TOPIC = gl.TOPIC


@strawberry.enum
class EdgeKind(Enum):
    RELATED = gl.RELATED
    PUBLISHED_BY = gl.PUBLISHED_BY
    TAGGED = gl.TAGGED


@strawberry.enum
class Direction(Enum):
    OUT = gt.OUT
    IN = gt.IN
    BOTH = gt.BOTH


@strawberry.enum(description="Server-side layouts (networkx, fixed seed).")
class Layout(Enum):
    SPRING = glayout.SPRING
    KAMADA_KAWAI = glayout.KAMADA_KAWAI
    CIRCULAR = glayout.CIRCULAR
    SHELL = glayout.SHELL


@strawberry.enum
class ExportFormat(Enum):
    NODE_LINK = gx.NODE_LINK
    CYTOSCAPE = gx.CYTOSCAPE
    GRAPHML = gx.GRAPHML
    GEXF = gx.GEXF


@strawberry.type
class SubgraphNode:
    id: strawberry.ID
    key: str = strawberry.field(
        description="Node key: article URL, provider:<domain> or topic:<name>."
    )
    kind: NodeKind
    label: str
    distance: int = strawberry.field(description="Hops from the nearest centre (0 for a centre).")
    article: Article | None
    x: float | None = strawberry.field(default=None, description="Layout x in [-1, 1].")
    y: float | None = strawberry.field(default=None, description="Layout y in [-1, 1].")


@strawberry.type
class SubgraphEdge:
    source: str
    target: str
    kind: EdgeKind
    rank: int | None = strawberry.field(description="Position in the related list (0 = first).")


@strawberry.type(description="A provider or topic whose neighbours were not all drawn.")
class HubOmission:
    key: str
    kind: NodeKind
    label: str
    total: int = strawberry.field(description="Its neighbours over the edges walked.")
    shown: int = strawberry.field(description="Of those, how many are in the subgraph.")
    omitted: int = strawberry.field(description="total - shown.")


@strawberry.type(description="Nodes and edges ready to draw.")
class Subgraph:
    nodes: list[SubgraphNode]
    edges: list[SubgraphEdge]
    truncated: bool = strawberry.field(description="True when `limit` or a hub cap left nodes out.")
    omitted: int = strawberry.field(
        default=0, description="Hub links left out: the sum of `omittedByHub` counts."
    )
    omitted_by_hub: list[HubOmission] = strawberry.field(
        default_factory=list, description="Hubs with neighbours left out, most first."
    )
    source: strawberry.Private[gt.Subgraph | None] = None
    positions: strawberry.Private[dict | None] = None

    @strawberry.field(
        description="This subgraph in a graph tool's format, from networkx's writers: "
        "an object for NODE_LINK and CYTOSCAPE, a string of XML for GRAPHML and GEXF.",
        graphql_type=JSON,
    )
    def export(self, info: Info, format: ExportFormat) -> dict | str:
        return gx.export(graph(info), format.value, self.source, self.positions)


def node_label(lg: gl.LinkGraph, key: str) -> str:
    """What a drawing shows for a node: an article's title (else its URL), a name."""
    d = lg.data(key)
    if isinstance(d, gl.Article):
        return d.title or d.key
    return d.name


_TYPE_NAME = {gl.ARTICLE: "Article", gl.PROVIDER: "Provider", gl.TOPIC: "Topic"}


def to_subgraph(lg: gl.LinkGraph, sub: gt.Subgraph, positions: dict | None = None) -> Subgraph:
    """The GraphQL answer for a walk's subgraph, laid out at ``positions`` if given."""
    nodes = []
    for key, dist in sub.nodes:
        kind = lg.kind(key)
        data = lg.data(key)
        x, y = positions[key] if positions else (None, None)
        nodes.append(
            SubgraphNode(
                id=global_id(_TYPE_NAME[kind], key),
                key=key,
                kind=NodeKind(kind),
                label=node_label(lg, key),
                distance=dist,
                article=data if kind == gl.ARTICLE else None,
                x=x,
                y=y,
            )
        )
    edges = [SubgraphEdge(source=u, target=v, kind=EdgeKind(k), rank=r) for u, v, k, r in sub.edges]
    hubs = [
        HubOmission(
            key=h.key,
            kind=NodeKind(lg.kind(h.key)),
            label=node_label(lg, h.key),
            total=h.total,
            shown=h.shown,
            omitted=h.omitted,
        )
        for h in getattr(sub, "hubs", ())
    ]
    return Subgraph(
        nodes=nodes,
        edges=edges,
        truncated=sub.truncated,
        omitted=sum(h.omitted for h in hubs),
        omitted_by_hub=hubs,
        source=sub,
        positions=positions,
    )


@strawberry.type(description="A chain of related links between two articles.")
class Chain:
    length: int = strawberry.field(description="Hops from `from` to `to`.")
    articles: list[Article]
    edges: list[SubgraphEdge]


def to_chain(lg: gl.LinkGraph, path: list[str]) -> Chain:
    """The GraphQL answer for a chain of articles (``path``, from first to last)."""
    edges = [
        SubgraphEdge(source=s, target=t, kind=EdgeKind(k), rank=r)
        for s, t, k, r in gc.chain_edges(lg, path)
    ]
    return Chain(length=len(path) - 1, articles=[lg.data(k) for k in path], edges=edges)


@strawberry.enum
class ReadingOrder(Enum):
    QUALITY = ge.QUALITY
    RECENCY = ge.RECENCY


@strawberry.type(description="A community of articles (Leiden over the related links).")
class Cluster:
    id: int = strawberry.field(description="0 = largest; ties by smallest URL.")
    size: int
    members: strawberry.Private[list[str]]

    @strawberry.field(description="Its articles by PageRank, highest first.")
    def top_articles(self, info: Info, first: int = 5) -> list[Article]:
        check_bound("first", first, 0, ga.MAX_CLUSTERS_PAGE)
        lg = graph(info)
        return [lg.data(k) for k in self.members[:first]]


MAX_FIXED = 5000


def hub_chain_answer(lg, path: list[str]) -> Chain:
    """A chain with a provider or topic end: ``articles`` lists its articles only,
    ``length`` counts every hop, ``edges`` include the article → hub edge."""
    edges = [
        SubgraphEdge(source=s, target=t, kind=EdgeKind(k), rank=r)
        for s, t, k, r in gc.chain_edges(lg, path)
    ]
    articles = [lg.data(k) for k in path if lg.kind(k) == "ARTICLE"]
    return Chain(length=len(path) - 1, articles=articles, edges=edges)


@strawberry.input(description="Where a client already drew a node: `subgraph(fixed:)`.")
class FixedPosition:
    key: str = strawberry.field(description="A node key as `SubgraphNode.key` gives it.")
    x: float
    y: float


@strawberry.type(description="Which graph version the served PageRank and clusters belong to.")
class AnalyticsState:
    version: Version = strawberry.field(description="The graph version they were computed for.")
    graph_version: Version = strawberry.field(description="The graph version queried.")
    current: bool = strawberry.field(description="version == graphVersion.")
    seconds: float = strawberry.field(description="How long computing them took.")


@strawberry.type
class MapsQuery:
    @strawberry.field(
        description="The union of the neighbourhoods of several nodes (article URLs, "
        "`provider:<domain>`, `topic:<name>`), ready to draw. A provider or topic adds at "
        "most `hubCap` nodes (newest first); `truncated` and `omitted`/`omittedByHub` say "
        "what was left out. With `fixed`, nodes the client already drew keep their "
        "positions exactly and only the others are laid out (SPRING, fixed seed) around them."
    )
    def subgraph(
        self,
        info: Info,
        urls: list[str],
        depth: int = 1,
        direction: Direction = Direction.BOTH,
        edge_kinds: list[EdgeKind] | None = (EdgeKind.RELATED,),  # type: ignore[assignment]
        limit: int = 500,
        hub_cap: Annotated[
            int | None,
            strawberry.argument(description=f"Default {ge.DEFAULT_HUB_CAP}."),
        ] = None,
        layout: Layout | None = None,
        fixed: Annotated[
            list[FixedPosition] | None,
            strawberry.argument(
                description=f"Positions the client has (at most {MAX_FIXED}); implies "
                "layout SPRING for the other nodes. Keys not in the graph are ignored."
            ),
        ] = None,
    ) -> Subgraph:
        lg = graph(info)
        check_bound("number of URLs", len(urls), 1, ge.MAX_CENTRES)
        centres = [gm.require_node(lg, u) for u in urls]
        kinds = tuple(k.value for k in (edge_kinds or ()))
        cap = ge.DEFAULT_HUB_CAP if hub_cap is None else hub_cap
        sub = ge.map_subgraph(lg, centres, depth, direction.value, kinds, limit, cap)
        pos: dict[str, tuple[float, float]] | None
        if fixed:
            check_bound("number of fixed positions", len(fixed), 0, MAX_FIXED)
            if layout is not None and layout.value != SPRING:
                raise BoundError("fixed positions go with layout SPRING (or no layout)")
            pos = positions_around(sub, {f.key: (f.x, f.y) for f in fixed})
        else:
            pos = ge.layout_positions(lg, sub, layout.value) if layout else None
        return to_subgraph(lg, sub, pos)

    @strawberry.field(
        description="The k shortest simple chains of related links, shortest first; "
        "empty when none is within maxLength."
    )
    def chains(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        k: int = 3,
        max_length: int = 6,
        directed: bool = False,
    ) -> list[Chain]:
        lg = graph(info)
        src, dst = lg.require(from_), lg.require(to)
        return [
            to_chain(lg, p) for p in ge.k_shortest_chains(lg, src, dst, k, max_length, directed)
        ]

    @strawberry.field(
        description="What to read after an article: follow its related links, best next "
        "first (QUALITY: highest quality; RECENCY: newest), no repeats; when a branch ends, "
        "the best of the nearest unread articles (related links either way). The article "
        "itself is not listed."
    )
    def reading_list(
        self,
        info: Info,
        url: str,
        length: int = 10,
        by: ReadingOrder = ReadingOrder.QUALITY,
    ) -> list[Article]:
        lg = graph(info)
        return [lg.data(k) for k in ge.reading_list(lg, lg.require(url), length, by.value)]

    @strawberry.field(
        description="The graph version the served PageRank and clusters belong to: after "
        "a change the last result is served while the new one is computed in the background.",
        graphql_type=AnalyticsState,
    )
    def analytics(self, info: Info) -> AnalyticsState | Awaitable[AnalyticsState]:
        lg = graph(info)

        def read() -> AnalyticsState:
            res = ga.result(lg)
            return AnalyticsState(
                version=Version(res.version),
                graph_version=Version(lg.version),
                current=res.version == lg.version,
                seconds=round(res.seconds, 3),
            )

        return analytic(lg, "result", read)

    @strawberry.field(
        description="Clusters of articles, largest first.", graphql_type=list[Cluster]
    )
    def clusters(self, info: Info, first: int = 20) -> list[Cluster] | Awaitable[list[Cluster]]:
        check_bound("first", first, 0, ga.MAX_CLUSTERS_PAGE)
        lg = graph(info)

        def read() -> list[Cluster]:
            page = ga.clusters(lg)[:first]
            return [Cluster(id=c.id, size=c.size, members=c.members) for c in page]

        return analytic(lg, "clusters", read)
