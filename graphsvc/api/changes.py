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

import strawberry
from strawberry.types import Info

from ..graph import query as gq
from ..graph.errors import BoundError, GraphError
from .subscriptions import changes
from .types import Article, ArticleWhere
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


def events(old, new, change, where: dict | None, urls: list[str] | None):
    """The (kind, key, now, before) of ``change`` that match, in URL order."""
    wanted = None
    if urls is not None:
        wanted = {k for lg in (old, new) for u in urls if (k := lg.resolve(u)) is not None}
    out = []

    def keep(key: str) -> bool:
        return wanted is None or key in wanted

    for key in change.added:
        if keep(key) and gq.article_matches(new, key, where):
            out.append(("CREATED", key, new.data(key), None))
    for key in change.changed:
        if not keep(key) or key not in new.g or key not in old.g:
            continue
        if gq.article_matches(new, key, where) or gq.article_matches(old, key, where):
            out.append(("UPDATED", key, new.data(key), old.data(key)))
    for key in change.removed:
        if keep(key) and key in old.g and gq.article_matches(old, key, where):
            out.append(("DELETED", key, None, old.data(key)))
    out.sort(key=lambda e: (e[1], e[0]))
    return out


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
        cond = where.to_dict() if where else None
        old = live.graph
        # Each change with the graph it made: the applying thread's current one.
        stream = changes(live, lambda change: (change, live.graph))
        async with aclosing(stream):
            async for change, new in stream:
                found = events(old, new, change, cond, urls)
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
