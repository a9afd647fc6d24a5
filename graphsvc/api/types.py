"""Strawberry types. Resolvers return the graph layer's own objects (``is_type_of``
tells Strawberry which type each is), so a field is an attribute read, not a copy."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Generic, TypeVar

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import graph as gl
from ..graph import analytics as ga
from ..graph import chains as gc
from ..graph import export as gx
from ..graph import layout as glayout
from ..graph import query as gq
from ..graph import traverse as gt
from ..graph.errors import BoundError
from ..ingest import records

MAX_PAGE = 1000


def graph(info: Info) -> gl.LinkGraph:
    return info.context["graph"]


def analytic(lg: gl.LinkGraph, name: str, read: Callable[[], T]) -> T | Awaitable[T]:
    """``read()`` now when analytics ``name`` is cached; else computed in a worker thread,
    so the first request on a big graph does not stop the server answering others."""
    if ga.ready(lg, name):
        return read()
    return run_in_threadpool(read)


# -- ids and cursors -----------------------------------------------------------------
def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, str] | None:
    try:
        type_name, _, key = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, key) if key else None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, n = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "offset" and n.isdigit():
            return int(n) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BoundError(f"invalid cursor: {cursor!r}")


# -- enums -------------------------------------------------------------------------
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


@strawberry.enum
class ArticleOrder(Enum):
    PUBLISHED_AT_DESC = gq.PUBLISHED_AT_DESC
    PUBLISHED_AT_ASC = gq.PUBLISHED_AT_ASC
    QUALITY_DESC = gq.QUALITY_DESC
    RELATED_COUNT_DESC = gq.RELATED_COUNT_DESC


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


# -- connections -------------------------------------------------------------------
T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[T]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def paginate(
    items: list,
    first: int | None,
    after: str | None,
    convert: Callable[[list], list] | None = None,
    default: int = 20,
) -> Connection:
    """A Relay connection over ``items``; ``convert`` turns one page of items into nodes."""
    first = default if first is None else first
    if not 0 <= first <= MAX_PAGE:
        raise BoundError(f"first must be between 0 and {MAX_PAGE} (got {first})")
    start = _offset(after)
    page = items[start : start + first]
    if convert is not None:
        page = convert(page)
    edges = [Edge(cursor=_cursor(start + i), node=n) for i, n in enumerate(page)]
    return Connection(
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + len(page) < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
    )


# -- inputs ------------------------------------------------------------------------
@strawberry.input
class ArticleFilter:
    provider: str | None = strawberry.field(default=None, description="Provider domain.")
    topic: str | None = strawberry.field(default=None, description="Topic name, any case.")
    published_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    published_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    min_quality: float | None = None
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of title or excerpt."
    )
    is_stub: bool | None = None

    def to_query(self) -> gq.ArticleQuery:
        return gq.ArticleQuery(
            provider=self.provider,
            topic=self.topic,
            published_after=_utc(self.published_after),
            published_before=_utc(self.published_before),
            min_quality=self.min_quality,
            text=self.text,
            is_stub=self.is_stub,
        )


def _utc(dt: datetime | None) -> datetime | None:
    """A time without a zone means UTC, as in the files (comparing naive and aware fails)."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def article_page(
    info: Info,
    filter: ArticleFilter | None,
    order_by: ArticleOrder,
    first: int | None,
    after: str | None,
    scope: gq.ArticleQuery | None = None,
) -> Connection[Article]:
    q = filter.to_query() if filter else gq.ArticleQuery()
    if scope is not None:  # a provider's or topic's own articles
        if (scope.provider and q.provider and scope.provider.lower() != q.provider.lower()) or (
            scope.topic and q.topic and scope.topic.casefold() != q.topic.casefold()
        ):
            return paginate([], first, after)
        q.provider = scope.provider or q.provider
        q.topic = scope.topic or q.topic
    lg = graph(info)
    keys = gq.find_articles(lg, q, order_by.value)
    return paginate(keys, first, after, lambda page: [lg.data(k) for k in page])


# -- object types -------------------------------------------------------------------
@strawberry.interface(description="Relay global object identification.")
class Node:
    id: strawberry.ID


@strawberry.type
class Image:
    url: str | None
    width: int | None
    height: int | None
    is_cached: bool | None
    extra: JSON

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, records.Image)


@strawberry.type(description="A news site or publisher, keyed by domain.")
class Provider(Node):
    domain: str
    name: str
    images: list[Image]

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Provider)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Provider", self.key)

    @strawberry.field
    def article_count(self, info: Info) -> int:
        return graph(info).article_count(self.key)

    @strawberry.field
    def articles(
        self,
        info: Info,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Article]:
        return article_page(
            info, filter, order_by, first, after, gq.ArticleQuery(provider=self.domain)
        )


@strawberry.type(description="A subject articles are tagged with; names match in any case.")
class Topic(Node):
    name: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Topic)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Topic", self.key)

    @strawberry.field
    def article_count(self, info: Info) -> int:
        return graph(info).article_count(self.key)

    @strawberry.field
    def articles(
        self,
        info: Info,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Article]:
        return article_page(info, filter, order_by, first, after, gq.ArticleQuery(topic=self.name))


@strawberry.type(
    description="An article: from its own file, or a stub known only from related lists."
)
class Article(Node):
    url: str = strawberry.field(description="Canonical URL; the article's key.")
    aliases: list[str] = strawberry.field(
        description="Every URL the files give for it, as written."
    )
    title: str | None
    excerpt: str | None
    body: str | None = strawberry.field(description="What follows the front matter, as written.")
    published_at: datetime | None
    category: str | None
    type: str | None
    quality: float | None
    heat: float | None
    published: bool | None
    images: list[Image]
    featured_content: str | None = strawberry.field(description="Raw HTML, as written.")
    secured: str | None
    is_stub: bool
    sources: list[str] = strawberry.field(
        description="Files that describe it, relative to the corpus."
    )
    extra: JSON = strawberry.field(
        description="Keys the format does not define, and wrongly typed values."
    )

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Article)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Article", self.key)

    @strawberry.field
    def web_url(self) -> str | None:
        return self.urls.get("webUrl")

    @strawberry.field
    def original_url(self) -> str | None:
        return self.urls.get("originalUrl")

    @strawberry.field
    def amp_web_url(self) -> str | None:
        return self.urls.get("ampWebUrl")

    @strawberry.field
    def cdn_amp_web_url(self) -> str | None:
        return self.urls.get("cdnAmpWebUrl")

    @strawberry.field
    def provider(self, info: Info) -> Provider | None:
        return graph(info).provider_of(self.key)

    @strawberry.field
    def topics(self, info: Info) -> list[Topic]:
        return graph(info).topics_of(self.key)

    @strawberry.field(description="Articles this one's related list names, in file order.")
    def related(self, info: Info) -> list[Article]:
        return graph(info).related(self.key)

    @strawberry.field(description="Articles whose related lists name this one.")
    def related_by(self, info: Info) -> list[Article]:
        return graph(info).related_by(self.key)

    @strawberry.field(description="Related links in and out (a link each way counts twice).")
    def degree(self, info: Info) -> int:
        return ga.degree(graph(info), self.key)

    @strawberry.field(description="PageRank over the related links (a link is a vote).")
    def pagerank(self, info: Info) -> float:
        lg, key = graph(info), self.key
        return analytic(lg, "pagerank", lambda: ga.pagerank(lg).get(key, 0.0))

    @strawberry.field(
        description="Its cluster's id (Leiden, fixed seed); see `clusters`. -1 while the "
        "clusters of a new graph version are computed and this article is new."
    )
    def cluster(self, info: Info) -> int:
        lg, key = graph(info), self.key
        return analytic(lg, "cluster_of", lambda: ga.cluster_of(lg).get(key, ga.NO_CLUSTER))


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
        "an object for NODE_LINK and CYTOSCAPE, a string of XML for GRAPHML and GEXF."
    )
    def export(self, info: Info, format: ExportFormat) -> JSON:
        return gx.export(graph(info), format.value, self.source, self.positions)


def node_label(lg: gl.LinkGraph, key: str) -> str:
    d = lg.data(key)
    if isinstance(d, gl.Article):
        return d.title or d.key
    return d.name


_TYPE_NAME = {gl.ARTICLE: "Article", gl.PROVIDER: "Provider", gl.TOPIC: "Topic"}


def to_subgraph(lg: gl.LinkGraph, sub: gt.Subgraph, positions: dict | None = None) -> Subgraph:
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
    edges = [
        SubgraphEdge(source=s, target=t, kind=EdgeKind(k), rank=r)
        for s, t, k, r in gc.chain_edges(lg, path)
    ]
    return Chain(length=len(path) - 1, articles=[lg.data(k) for k in path], edges=edges)


@strawberry.type
class LoadIssue:
    path: str
    line: int | None
    message: str
    severity: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, records.LoadIssue)


@strawberry.type
class GraphStats:
    version: int
    files: int
    articles: int
    documents: int = strawberry.field(description="Articles with a file of their own.")
    stubs: int
    providers: int
    topics: int
    related_edges: int
    load_errors: int
    load_warnings: int

    @strawberry.field(description="Every problem seen while loading: errors, then warnings.")
    def load_report(self, info: Info) -> list[LoadIssue]:
        return load_report(graph(info))


def load_report(lg: gl.LinkGraph) -> list[records.LoadIssue]:
    return sorted(lg.issues, key=lambda i: (i.severity != "error", i.path, i.line or 0))
