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

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from ..ingest.write import FILE_KEYS
from ..live import LiveCorpus, WriteRefused, WriteResult
from .auth import Auth
from .types import Article, graph

# GraphQL field (Python name) -> file key, in the order files write them.
_ATTR = {
    "publishedDateTime": "published_date_time",
    "originalUrl": "original_url",
    "webUrl": "web_url",
    "ampWebUrl": "amp_web_url",
    "cdnAmpWebUrl": "cdn_amp_web_url",
    "featuredContent": "featured_content",
}


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


@strawberry.input(description="An image as files write it.")
class ImageInput:
    url: str | None = None
    width: int | None = None
    height: int | None = None
    is_cached: bool | None = None
    extra: JSON | None = strawberry.field(default=None, description="Any other keys.")

    def to_file(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key, v in (
            ("url", self.url),
            ("width", self.width),
            ("height", self.height),
            ("isCached", self.is_cached),
        ):
            if v is not None:
                d[key] = v
        return _with_extra(d, self.extra, ("url", "width", "height", "isCached"), "image ")


@strawberry.input(description="A provider as files write it.")
class ProviderInput:
    name: str | None = None
    domain: str | None = None
    images: list[ImageInput] | None = None
    extra: JSON | None = strawberry.field(default=None, description="Any other keys.")

    def to_file(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.name is not None:
            d["name"] = self.name
        if self.domain is not None:
            d["domain"] = self.domain
        if self.images:
            d["images"] = [i.to_file() for i in self.images]
        return _with_extra(d, self.extra, ("name", "domain", "images"), "provider ")


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

    def to_file(self, where: str = "") -> dict[str, Any]:
        """The front matter mapping, keys in the order files write them."""
        d: dict[str, Any] = {}
        for key in FILE_KEYS:
            v = getattr(self, _ATTR.get(key, key), None)
            if v is None:
                continue
            if key == "provider":
                v = v.to_file()
            elif key == "images":
                v = [i.to_file() for i in v]
            elif key == "related":
                v = [r.to_file(f"related item {n + 1}: ") for n, r in enumerate(v)]
            elif key in ("quality", "heat"):
                v = _number(v)
            d[key] = v
        return _with_extra(d, self.extra, FILE_KEYS, where)


@strawberry.input(
    description="An article as its file holds it; `body` is the text after the front matter."
)
class ArticleInput(RelatedItemInput):
    related: list[RelatedItemInput] | None = None
    body: str | None = None
    expected_version: int | None = strawberry.field(
        default=None,
        description="Write only if the article has not changed after this version (the "
        "`stats { version }` or write `version` you read it at); else a CONFLICT error and "
        "nothing is written. Needs a store-backed server (`serve --store`). Without it the "
        "last write wins.",
    )

    def to_article(self) -> tuple[dict[str, Any], str | None]:
        return self.to_file(), self.body


@strawberry.type(description="An article written by an upsert.")
class ArticleWritten:
    url: str = strawberry.field(description="The article's canonical URL.")
    paths: list[str] = strawberry.field(description="Files written, relative to the corpus folder.")
    created: bool = strawberry.field(description="True when a new file was made.")
    version: int = strawberry.field(description="The graph version that shows the write.")

    @strawberry.field(description="The article as the graph now shows it.")
    def article(self, info: Info) -> Article | None:
        return graph(info).article(self.url)


@strawberry.type(description="An article whose files were deleted.")
class ArticleDeleted:
    url: str
    paths: list[str] = strawberry.field(description="Files removed, relative to the corpus folder.")
    version: int

    @strawberry.field(description="The stub left when other articles' related lists still name it.")
    def article(self, info: Info) -> Article | None:
        return graph(info).article(self.url)


def _writer(info: Info) -> LiveCorpus:
    ctx = info.context
    request = ctx.get("request")
    auth: Auth = ctx.get("auth") or Auth()
    auth.check_write(getattr(request, "headers", None), ctx.get("connection_params"))
    live = ctx.get("live")
    if live is None:
        raise WriteRefused("this server has no corpus folder to write to")
    return live


def _expected(live: LiveCorpus, versions: list[int | None]) -> dict:
    """The keyword arguments that pass ``expectedVersion`` on, when any is given."""
    if all(v is None for v in versions):
        return {}
    if not getattr(live, "checks_versions", False):
        raise WriteRefused("expectedVersion needs a server backed by a store (serve --store)")
    return {"expected": versions}


def _written(info: Info, res: WriteResult) -> list[ArticleWritten]:
    info.context["graph"] = res.graph  # the rest of this operation reads the new version
    return [
        ArticleWritten(url=w.url, paths=w.paths, created=w.created, version=res.version)
        for w in res.items
    ]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create or replace one article file. Needs the write token.")
    async def upsert_article(self, info: Info, input: ArticleInput) -> ArticleWritten:
        live = _writer(info)
        kw = _expected(live, [input.expected_version])
        res = await anyio.to_thread.run_sync(lambda: live.upsert([input.to_article()], **kw))
        return _written(info, res)[0]

    @strawberry.mutation(
        description="Create or replace several articles as one change: all or nothing."
    )
    async def upsert_articles(self, info: Info, inputs: list[ArticleInput]) -> list[ArticleWritten]:
        live = _writer(info)
        articles = []
        for n, i in enumerate(inputs):
            try:
                articles.append(i.to_article())
            except WriteRefused as e:
                raise WriteRefused(f"input {n + 1}: {e}") from None
        kw = _expected(live, [i.expected_version for i in inputs])
        res = await anyio.to_thread.run_sync(lambda: live.upsert(articles, **kw))
        return _written(info, res)

    @strawberry.mutation(description="Delete the files of the article any of its URLs names.")
    async def delete_article(
        self,
        info: Info,
        url: str,
        expected_version: Annotated[
            int | None,
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
        return ArticleDeleted(url=w.url, paths=w.paths, version=res.version)
