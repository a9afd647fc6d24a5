"""articleChanged: change events for just the articles a subscriber cares about.

Each applied change (the live corpus's ``Change``) is compared with the version before
it: an article of ``added`` that matches is CREATED, one of ``removed`` that matched is
DELETED, one of ``changed`` that matches before or after is UPDATED. ``article`` is its
state in the new version and ``previous`` its state in the one before, each resolved
against its own version (a subscriber selects any Article fields of either).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from enum import Enum

import anyio
import anyio.to_thread
import strawberry
from strawberry.types import Info

from ..graph import query as gq
from ..graph.errors import BoundError, GraphError
from .filters import ArticleWhere
from .nodes import Article
from .subscriptions import changes
from .version import Version

MAX_URLS = 1000


@strawberry.enum
class ArticleChangeKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type(description="One article created, updated or deleted by a graph version.")
class ArticleChangeEvent:
    kind: ArticleChangeKind
    version: Version
    url: str
    article: Article | None = strawberry.field(description="Its state now; null when DELETED.")
    previous: Article | None = strawberry.field(
        description="Its state before this version; null when CREATED."
    )


def events(old, new, change, where: gq.Where, urls: list[str] | None):
    """The (kind, key, now, before) of ``change`` that match, in URL order: ``where``
    (compiled once, when the subscription began) tests only the articles the change
    touched, in the version before or after it."""
    wanted = None
    if urls is not None:
        wanted = {k for lg in (old, new) for u in urls if (k := lg.resolve(u)) is not None}

    def keep(keys) -> list[str]:
        return [k for k in keys if wanted is None or k in wanted]

    changed = [k for k in keep(change.changed) if k in new.g and k in old.g]
    out = [("CREATED", k, new.data(k), None) for k in where.matching(new, keep(change.added))]
    hit = where.matching(new, changed) | where.matching(old, changed)
    out += [("UPDATED", k, new.data(k), old.data(k)) for k in hit]
    out += [("DELETED", k, None, old.data(k)) for k in where.matching(old, keep(change.removed))]
    out.sort(key=lambda e: (e[1], e[0]))
    return out


#: Threads that match changes against articleChanged subscriptions, server-wide: the
#: loop keeps answering while they work, and they hold the GIL two at a time at most.
MATCHING_THREADS = 2
_matching: list = []


def _matching_limiter() -> anyio.CapacityLimiter:
    if not _matching:
        _matching.append(anyio.CapacityLimiter(MATCHING_THREADS))
    return _matching[0]


@strawberry.type
class ArticleSubscription:
    @strawberry.subscription(
        description="Events for the articles that match `where` (in the version before or "
        "after the change) and, if given, are among `urls`, from now on, in version order."
    )
    async def article_changed(
        self,
        info: Info,
        where: ArticleWhere | None = None,
        urls: list[str] | None = None,
    ) -> AsyncGenerator[ArticleChangeEvent, None]:
        live = info.context.get("live")
        if live is None:
            raise GraphError("this server does not follow a corpus folder")
        if urls is not None and len(urls) > MAX_URLS:
            raise BoundError(f"at most {MAX_URLS} urls (got {len(urls)})")
        # Compiled (and, by the cost limit, priced) once, when it subscribes.
        compiled = gq.compile_where(where.to_dict() if where else None)
        old = live.graph
        limiter = _matching_limiter()
        # The first version's columns, off the loop (each later one derives from them).
        await anyio.to_thread.run_sync(gq.columns, old, limiter=limiter)
        # Each change with the graph it made: the applying thread's current one.
        stream = changes(live, lambda change: (change, live.graph))
        async with aclosing(stream):
            async for change, new in stream:
                found = await anyio.to_thread.run_sync(
                    events, old, new, change, compiled, urls, limiter=limiter
                )
                # Article fields resolve against the version their object belongs to.
                info.context["graph"] = new
                info.context["graphs"] = (new, old)
                for kind, key, now, before in found:
                    yield ArticleChangeEvent(
                        kind=ArticleChangeKind(kind),
                        version=change.version,
                        url=key,
                        article=now,
                        previous=before,
                    )
                old = new
