"""Live updates (on /graphql over websockets, graphql-transport-ws or the legacy graphql-ws
subprotocol, under the same checks and limits): ``graphChanged``, every applied change,
and ``articleChanged``, events for just the articles a subscriber cares about.

For articleChanged, each applied change (the live corpus's ``Change``) is compared with
the version before it: an article of ``added`` that matches is CREATED, one of
``removed`` that matched is DELETED, one of ``changed`` that matches before or after is
UPDATED. ``article`` is its state in the new version and ``previous`` its state in the
one before, each resolved against its own version (a subscriber selects any Article
fields of either).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from enum import Enum
from typing import Any

import anyio
import anyio.to_thread
import strawberry
from graphql import GraphQLError, GraphQLFormattedError
from strawberry.types import ExecutionResult, Info

from ..corpus import Change
from ..errors import BoundError, GraphError, TooSlow
from ..graph import query as gq
from .filters import ArticleWhere
from .graphql_core import (
    BaseGraphQLTransportWSHandler,
    BaseGraphQLWSHandler,
    PreExecutionError,
)
from .limit_errors import LimitExceeded
from .nodes import Article
from .stats import LoadIssue, load_report
from .version import Version

#: Changes a subscriber may fall behind by before it is dropped.
MAX_QUEUED = 1000


#: Operations (subscriptions mostly) one websocket may run at once: Strawberry's cap,
#: checked before the operation is even parsed (see :class:`TransportWSHandler`).
MAX_SUBSCRIPTIONS = 100
_STRAWBERRY_REFUSAL = "Subscription limit reached"


class SubscriberTooSlow(TooSlow):
    """More than :data:`MAX_QUEUED` changes wait for this subscriber."""


def _limit_refusal() -> GraphQLFormattedError:
    """The error that refuses an operation past ``MAX_SUBSCRIPTIONS``, naming the limit."""
    return LimitExceeded(
        "max-subscriptions",
        MAX_SUBSCRIPTIONS,
        "this websocket runs that many operations already; complete one first",
    ).formatted


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler, whose refusal of an operation past
    ``max_subscriptions_per_connection`` names the limit as every refusal does."""

    async def send_message(self, message) -> None:
        payload = message.get("payload") if message.get("type") == "error" else None
        if payload and payload[0] == {"message": _STRAWBERRY_REFUSAL}:
            message = {**message, "payload": [_limit_refusal()]}
        await super().send_message(message)


class GraphQLWSHandler(BaseGraphQLWSHandler):
    """Strawberry's handler of the legacy graphql-ws subprotocol (Apollo's
    subscriptions-transport-ws), held to what graphql-transport-ws does: the read token at
    ``connection_init`` (the view's ``on_ws_connect``), the same cap on operations per
    socket refused by name, and every operation (queries and mutations too, as the
    protocol's ``start`` allows) run by ``schema.stream`` under the same limits (cost,
    depth, time) as over graphql-transport-ws, and the same wait for ``connection_init``
    (then 4408). Its ``error`` payload is one error
    object, as that protocol has it (graphql-transport-ws sends a list)."""

    _init_received = False

    async def handle(self) -> None:
        # As graphql-transport-ws does: a socket that sends no connection_init within
        # the view's connection_init_wait_timeout is closed with 4408.
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timer.cancel()
            with suppress(asyncio.CancelledError):
                await timer

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self._init_received:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message) -> None:
        self._init_received = True
        await super().handle_connection_init(message)

    async def send_message(self, message) -> None:
        payload = message.get("payload") if message.get("type") == "error" else None
        if payload == {"message": _STRAWBERRY_REFUSAL}:
            message = {**message, "payload": _limit_refusal()}
        await super().send_message(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        # As Strawberry's, but by ``schema.stream`` (any operation), not ``subscribe``.
        try:
            source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = source  # type: ignore[assignment]
            first = True
            async for result in source:
                if first and isinstance(result, PreExecutionError):
                    error = result.errors[0] if result.errors else GraphQLError("refused")
                    await self.send_message(
                        {"type": "error", "id": operation_id, "payload": error.formatted}
                    )
                    return
                if not isinstance(result, ExecutionResult):  # @defer / @stream frames
                    error = GraphQLError("Incremental delivery is not supported over graphql-ws")
                    await self.send_message(
                        {"type": "error", "id": operation_id, "payload": error.formatted}
                    )
                    return
                await self.send_data_message(result, operation_id)
                first = False
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            await self.send_message({"type": "complete", "id": operation_id})
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)


async def changes(live, snapshot: Callable[[Change], Any]) -> AsyncGenerator[Any, None]:
    """``snapshot(change)`` of each change ``live`` applies from now on, in order.

    ``snapshot`` runs in the thread that applied the change, so it sees that version as
    the current one. A subscriber more than :data:`MAX_QUEUED` changes behind gets
    :class:`SubscriberTooSlow`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    overflow = object()

    def put(item: Any) -> None:  # in the loop
        queue.put_nowait(item if queue.qsize() < MAX_QUEUED else overflow)

    unsubscribe = live.subscribe(lambda c: loop.call_soon_threadsafe(put, snapshot(c)))
    try:
        while True:
            item = await queue.get()
            if item is overflow:
                raise SubscriberTooSlow(
                    f"more than {MAX_QUEUED} changes were waiting; subscribe again"
                )
            yield item
    finally:
        unsubscribe()


@strawberry.type(description="One new graph version and the article URLs it touched.")
class GraphChange:
    version: Version
    added: list[str] = strawberry.field(description="Articles new in this version.")
    changed: list[str] = strawberry.field(
        description="Articles whose fields or outgoing links changed."
    )
    removed: list[str] = strawberry.field(description="Articles gone in this version.")
    files: list[str] = strawberry.field(
        default_factory=list, description="Files (relative) read again or written."
    )
    load_report: list[LoadIssue] = strawberry.field(
        default_factory=list, description="The problems those files have now (errors first)."
    )

    @strawberry.field(
        description="True when no article changed: only the load report did (say, a file "
        "that stopped loading keeps its last good version, with an error in the report)."
    )
    def report_only(self) -> bool:
        return not (self.added or self.changed or self.removed)


#: The most ``urls`` an articleChanged subscription may name.
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
class Subscription:
    @strawberry.subscription(
        description="Every applied change to the graph, in version order, from now on."
    )
    async def graph_changed(self, info: Info) -> AsyncGenerator[GraphChange, None]:
        live = info.context.get("live")
        if live is None:
            raise GraphError("this server does not follow a corpus folder")

        def snapshot(change: Change) -> tuple:  # in the thread that applied the change
            paths = set(change.files)
            return change, [i for i in load_report(live.graph) if i.path in paths]

        async with aclosing(changes(live, snapshot)) as stream:
            async for change, report in stream:
                yield GraphChange(
                    version=change.version,
                    added=change.added,
                    changed=change.changed,
                    removed=change.removed,
                    files=list(change.files),
                    load_report=report,
                )

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
