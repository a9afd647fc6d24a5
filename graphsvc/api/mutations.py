"""Writes: upsertArticle, upsertArticles and deleteArticle.

An input mirrors a file's own keys (``webUrl``, ``publishedDateTime``, ``provider {name
domain}``, ``extra`` for any other key, ``body`` for the text after the front matter),
so a client sends what a file holds. The live corpus renders it as front matter,
validates it as it validates files, writes it atomically and applies it before the
mutation returns; the response and every later query see the new version.

Where an upsert goes: an article that has files is written to those files (all of
them when several describe it, so the graph shows the upsert); a new article, or a
stub, gets a new file in the corpus folder. An upsert replaces the whole article:
keys the input leaves out are gone from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import graph as gl
from ..corpus import Corpus, WriteResult
from ..errors import WriteRefused
from ..files.write import FILE_KEYS
from . import graphql_core
from .auth import Auth
from .context import graph
from .nodes import Article
from .version import Version


def _number(v: float) -> int | float:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _with_extra(d: dict[str, Any], extra: Any, known: tuple[str, ...], where: str) -> dict:
    if extra is None:
        return d
    if not isinstance(extra, dict):
        raise WriteRefused(f"{where}extra must be a JSON object, got {type(extra).__name__}")
    for k, v in extra.items():
        if k in known:
            raise WriteRefused(f"{where}extra.{k}: {k} has a field of its own; set it there")
        d[k] = v
    return d


# -- what a client sent -> front matter ----------------------------------------------
# The input types below only declare the schema. Strawberry would build an object of
# every related item, field by field, on the event loop before the resolver runs
# (0.7 s for 5,000 related items, while no other request was answered). Instead
# ArticleInput's ``from_input`` keeps the value graphql-core coerced (a mapping keyed
# by GraphQL field names, which are the files' own keys: dates already datetimes) as
# a :class:`SentArticle`, and the write turns it into front matter in its thread.
_IMAGE_KEYS = ("url", "width", "height", "isCached")


def _image(v: Mapping[str, Any]) -> dict[str, Any]:
    d = {k: v[k] for k in _IMAGE_KEYS if v.get(k) is not None}
    return _with_extra(d, v.get("extra"), _IMAGE_KEYS, "image ")


def _provider(v: Mapping[str, Any]) -> dict[str, Any]:
    d = {k: v[k] for k in ("name", "domain") if v.get(k) is not None}
    if v.get("images"):
        d["images"] = [_image(i) for i in v["images"]]
    return _with_extra(d, v.get("extra"), ("name", "domain", "images"), "provider ")


def front_matter(v: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The front matter mapping of an ArticleInput or RelatedItemInput value, keys in
    the order files write them."""
    d: dict[str, Any] = {}
    for key in FILE_KEYS:
        x = v.get(key)
        if x is None:
            continue
        if key == "provider":
            x = _provider(x)
        elif key == "images":
            x = [_image(i) for i in x]
        elif key == "related":
            x = [front_matter(r, f"related item {n + 1}: ") for n, r in enumerate(x)]
        elif key in ("quality", "heat"):
            x = _number(x)
        d[key] = x
    return _with_extra(d, v.get("extra"), FILE_KEYS, where)


@dataclass(frozen=True, slots=True)
class SentArticle:
    """One ArticleInput as sent (coerced by graphql-core, not converted by Strawberry)."""

    value: Mapping[str, Any]

    @property
    def expected_version(self) -> int | None:
        return self.value.get("expectedVersion")

    def to_article(self) -> tuple[dict[str, Any], str | None]:
        """(front matter, body): in the write's thread, not on the event loop."""
        return front_matter(self.value), self.value.get("body")


@strawberry.input(description="An image as files write it.")
class ImageInput:
    url: str | None = None
    width: int | None = None
    height: int | None = None
    is_cached: bool | None = None
    extra: JSON | None = strawberry.field(default=None, description="Any other keys.")


@strawberry.input(description="A provider as files write it.")
class ProviderInput:
    name: str | None = None
    domain: str | None = None
    images: list[ImageInput] | None = None
    extra: JSON | None = strawberry.field(default=None, description="Any other keys.")


@strawberry.input(
    description="A related item as files write it: an article's keys without related and body."
)
class RelatedItemInput:
    web_url: str | None = None
    original_url: str | None = None
    amp_web_url: str | None = None
    cdn_amp_web_url: str | None = None
    title: str | None = None
    excerpt: str | None = None
    published_date_time: datetime | None = None
    category: str | None = None
    type: str | None = None
    quality: float | None = None
    heat: float | None = None
    published: bool | None = None
    provider: ProviderInput | None = None
    topics: list[str] | None = None
    images: list[ImageInput] | None = None
    secured: str | None = None
    featured_content: str | None = None
    extra: JSON | None = strawberry.field(
        default=None, description="Every other key of the front matter, as a JSON object."
    )


@strawberry.input(
    description="An article as its file holds it; `body` is the text after the front matter."
)
class ArticleInput(RelatedItemInput):
    related: list[RelatedItemInput] | None = None
    body: str | None = None
    expected_version: Version | None = strawberry.field(
        default=None,
        description="Write only if the article has not changed after this version (the "
        "`stats { version }` or write `version` you read it at); else a CONFLICT error and "
        "nothing is written. Needs a store-backed server (`serve --store`). Without it the "
        "last write wins.",
    )


def _sent(cls: type, value: Mapping[str, Any], context: graphql_core.InputContext) -> SentArticle:
    return SentArticle(value)


# Strawberry's hook for types that build their own value from the input.
graphql_core.set_from_input(ArticleInput, _sent)


@strawberry.type(description="An article written by an upsert.")
class ArticleWritten:
    url: str = strawberry.field(description="The article's canonical URL.")
    paths: list[str] = strawberry.field(description="Files written, relative to the corpus folder.")
    created: bool = strawberry.field(description="True when a new file was made.")
    version: Version = strawberry.field(description="The graph version that shows the write.")

    @strawberry.field(
        description="The article as the graph now shows it.", graphql_type=Article | None
    )
    def article(self, info: Info) -> gl.Article | None:
        return graph(info).article(self.url)


@strawberry.type(description="An article whose files were deleted.")
class ArticleDeleted:
    url: str
    paths: list[str] = strawberry.field(description="Files removed, relative to the corpus folder.")
    version: Version

    @strawberry.field(
        description="The stub left when other articles' related lists still name it.",
        graphql_type=Article | None,
    )
    def article(self, info: Info) -> gl.Article | None:
        return graph(info).article(self.url)


def _writer(info: Info) -> Corpus:
    ctx = info.context
    request = ctx.get("request")
    auth: Auth = ctx.get("auth") or Auth()
    auth.check_write(getattr(request, "headers", None), ctx.get("connection_params"))
    live = ctx.get("live")
    if live is None:
        raise WriteRefused("this server has no corpus folder to write to")
    return live


def _expected(live: Corpus, versions: list[int | None]) -> dict:
    """The keyword arguments that pass ``expectedVersion`` on, when any is given."""
    if all(v is None for v in versions):
        return {}
    if not live.checks_versions:
        raise WriteRefused("expectedVersion needs a server backed by a store (serve --store)")
    return {"expected": versions}


def _articles(inputs: list[SentArticle]) -> list[tuple[dict[str, Any], str | None]]:
    out = []
    for n, i in enumerate(inputs):
        try:
            out.append(i.to_article())
        except WriteRefused as e:
            raise WriteRefused(f"input {n + 1}: {e}") from None
    return out


def _written(info: Info, res: WriteResult) -> list[ArticleWritten]:
    info.context["graph"] = res.graph  # the rest of this operation reads the new version
    return [
        ArticleWritten(url=w.url, paths=w.paths, created=w.created, version=Version(res.version))
        for w in res.items
    ]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create or replace one article file. Needs the write token.")
    async def upsert_article(
        self,
        info: Info,
        input: Annotated[SentArticle, strawberry.argument(graphql_type=ArticleInput)],
    ) -> ArticleWritten:
        live = _writer(info)
        kw = _expected(live, [input.expected_version])
        res = await anyio.to_thread.run_sync(lambda: live.upsert([input.to_article()], **kw))
        return _written(info, res)[0]

    @strawberry.mutation(
        description="Create or replace several articles as one change: all or nothing."
    )
    async def upsert_articles(
        self,
        info: Info,
        inputs: Annotated[list[SentArticle], strawberry.argument(graphql_type=list[ArticleInput])],
    ) -> list[ArticleWritten]:
        live = _writer(info)
        kw = _expected(live, [i.expected_version for i in inputs])
        res = await anyio.to_thread.run_sync(lambda: live.upsert(_articles(inputs), **kw))
        return _written(info, res)

    @strawberry.mutation(description="Delete the files of the article any of its URLs names.")
    async def delete_article(
        self,
        info: Info,
        url: str,
        expected_version: Annotated[
            Version | None,
            strawberry.argument(
                description="Delete only if the article has not changed after this version "
                "(store-backed servers)."
            ),
        ] = None,
    ) -> ArticleDeleted:
        live = _writer(info)
        kw = _expected(live, [expected_version])
        if kw:
            kw = {"expected": expected_version}
        res = await anyio.to_thread.run_sync(lambda: live.delete(url, **kw))
        info.context["graph"] = res.graph
        w = res.items[0]
        return ArticleDeleted(url=w.url, paths=w.paths, version=Version(res.version))
