"""The graph's objects as GraphQL types: ``Article``, ``Provider``, ``Topic`` (each the
graph layer's own object: ``is_type_of`` tells Strawberry which is which, so a field is an
attribute read, not a copy), the Relay ``Node`` interface and its global ids."""

from __future__ import annotations

import base64
import binascii
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

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Provider", self.key)

    @strawberry.field
    def article_count(self, info: Info) -> int:
        return graph_of(info, self).article_count(self.key)

    articles = article_list_field(scope=lambda p: gq.ArticleQuery(provider=p.domain), first=20)


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
        return graph_of(info, self).article_count(self.key)

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
        return graph_of(info, self).provider_of(self.key)

    @strawberry.field
    def topics(self, info: Info) -> list[Topic]:
        return graph_of(info, self).topics_of(self.key)

    @strawberry.field(description="Articles this one's related list names, in file order.")
    def related(self, info: Info) -> list[Article]:
        return graph_of(info, self).related(self.key)

    @strawberry.field(description="Articles whose related lists name this one.")
    def related_by(self, info: Info) -> list[Article]:
        return graph_of(info, self).related_by(self.key)

    @strawberry.field(description="Related links in and out (a link each way counts twice).")
    def degree(self, info: Info) -> int:
        return ga.degree(graph_of(info, self), self.key)

    @strawberry.field(description="PageRank over the related links (a link is a vote).")
    def pagerank(self, info: Info) -> float:
        lg, key = graph_of(info, self), self.key
        return analytic(lg, "pagerank", lambda: ga.pagerank(lg).get(key, 0.0))

    @strawberry.field(
        description="Its cluster's id (Leiden, fixed seed); see `clusters`. -1 while the "
        "clusters of a new graph version are computed and this article is new."
    )
    def cluster(self, info: Info) -> int:
        lg, key = graph_of(info, self), self.key
        return analytic(lg, "cluster_of", lambda: ga.cluster_of(lg).get(key, ga.NO_CLUSTER))
