"""GraphQL for maps and exploration: subgraphs of several articles, k chains, reading
lists, clusters. Thin resolvers over graph/explore.py and graph/analytics.py."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from ..errors import BoundError, check_bound
from ..graph import analytics as ga
from ..graph import explore as ge
from ..graph import maps as gm
from ..graph.layout import SPRING, positions_around
from .types import (
    Article,
    Chain,
    Direction,
    EdgeKind,
    Layout,
    Subgraph,
    SubgraphEdge,
    analytic,
    graph,
    to_chain,
    to_subgraph,
)
from .version import Version


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
        for s, t, k, r in gm.chain_edges(lg, path)
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
        "a change the last result is served while the new one is computed in the background."
    )
    def analytics(self, info: Info) -> AnalyticsState:
        lg = graph(info)

        def read() -> AnalyticsState:
            res = ga.result(lg)
            return AnalyticsState(
                version=res.version,
                graph_version=lg.version,
                current=res.version == lg.version,
                seconds=round(res.seconds, 3),
            )

        return analytic(lg, "result", read)

    @strawberry.field(description="Clusters of articles, largest first.")
    def clusters(self, info: Info, first: int = 20) -> list[Cluster]:
        check_bound("first", first, 0, ga.MAX_CLUSTERS_PAGE)
        lg = graph(info)

        def read() -> list[Cluster]:
            page = ga.clusters(lg)[:first]
            return [Cluster(id=c.id, size=c.size, members=c.members) for c in page]

        return analytic(lg, "clusters", read)
