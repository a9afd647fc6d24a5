"""The graph's objects as GraphQL types: ``Article``, ``Provider``, ``Topic`` (each the
graph layer's own object: ``is_type_of`` tells Strawberry which is which, so a field is an
attribute read, not a copy), the Relay ``Node`` interface and its global ids."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import graph as gl
from ..graph import analytics as ga
from ..graph import query as gq
from ..records import article as records
from .articles import article_list_field
from .context import analytic, graph_of

NODE_TYPES = ("Article", "Provider", "Topic")


def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, str] | None:
    try:
        type_name, _, key = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, key) if key else None


def node_by_id(lg: gl.LinkGraph, id: str) -> gl.Article | gl.Provider | gl.Topic | None:
    """The article, provider or topic a global id names in ``lg``; None for another."""
    parsed = parse_global_id(id)
    if parsed is None:
        return None
    type_name, key = parsed
    if type_name not in NODE_TYPES or key not in lg.g:
        return None
    data = lg.data(key)
    return data if type(data).__name__ == type_name else None


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

    id: strawberry.ID = strawberry.field(resolver=lambda root: global_id("Provider", root.key))

    @strawberry.field
    def article_count(self, root: gl.Provider, info: Info) -> int:
        return graph_of(info, root).article_count(root.key)

    articles = article_list_field(scope=lambda p: gq.ArticleQuery(provider=p.domain), first=20)


@strawberry.type(description="A subject articles are tagged with; names match in any case.")
class Topic(Node):
    name: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Topic)

    id: strawberry.ID = strawberry.field(resolver=lambda root: global_id("Topic", root.key))

    @strawberry.field
    def article_count(self, root: gl.Topic, info: Info) -> int:
        return graph_of(info, root).article_count(root.key)

    articles = article_list_field(scope=lambda t: gq.ArticleQuery(topic=t.name), first=20)


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

    id: strawberry.ID = strawberry.field(resolver=lambda root: global_id("Article", root.key))

    @strawberry.field
    def web_url(self, root: gl.Article) -> str | None:
        return root.urls.get("webUrl")

    @strawberry.field
    def original_url(self, root: gl.Article) -> str | None:
        return root.urls.get("originalUrl")

    @strawberry.field
    def amp_web_url(self, root: gl.Article) -> str | None:
        return root.urls.get("ampWebUrl")

    @strawberry.field
    def cdn_amp_web_url(self, root: gl.Article) -> str | None:
        return root.urls.get("cdnAmpWebUrl")

    # The resolvers return the graph's own objects (``root`` is one, see the module doc);
    # ``graphql_type`` says which GraphQL type each is.
    @strawberry.field(graphql_type=Provider | None)
    def provider(self, root: gl.Article, info: Info) -> gl.Provider | None:
        return graph_of(info, root).provider_of(root.key)

    @strawberry.field(graphql_type=list[Topic])
    def topics(self, root: gl.Article, info: Info) -> list[gl.Topic]:
        return graph_of(info, root).topics_of(root.key)

    @strawberry.field(
        description="Articles this one's related list names, in file order.",
        graphql_type=list["Article"],
    )
    def related(self, root: gl.Article, info: Info) -> list[gl.Article]:
        return graph_of(info, root).related(root.key)

    @strawberry.field(
        description="Articles whose related lists name this one.",
        graphql_type=list["Article"],
    )
    def related_by(self, root: gl.Article, info: Info) -> list[gl.Article]:
        return graph_of(info, root).related_by(root.key)

    @strawberry.field(description="Related links in and out (a link each way counts twice).")
    def degree(self, root: gl.Article, info: Info) -> int:
        return ga.degree(graph_of(info, root), root.key)

    @strawberry.field(
        description="PageRank over the related links (a link is a vote).", graphql_type=float
    )
    def pagerank(self, root: gl.Article, info: Info) -> float | Awaitable[float]:
        lg, key = graph_of(info, root), root.key
        return analytic(lg, "pagerank", lambda: ga.pagerank(lg).get(key, 0.0))

    @strawberry.field(
        description="Its cluster's id (Leiden, fixed seed); see `clusters`. -1 while the "
        "clusters of a new graph version are computed and this article is new.",
        graphql_type=int,
    )
    def cluster(self, root: gl.Article, info: Info) -> int | Awaitable[int]:
        lg, key = graph_of(info, root), root.key
        return analytic(lg, "cluster_of", lambda: ga.cluster_of(lg).get(key, ga.NO_CLUSTER))
