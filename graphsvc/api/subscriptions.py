"""Live updates: the graphChanged subscription (graphql-transport-ws on /graphql), and
the extension that gives each operation one graph version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import strawberry
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import Info

from ..graph.errors import GraphError
from ..live import Change
from .limits import LimitExceeded
from .stats import LoadIssue, load_report
from .version import Version

#: Changes a subscriber may fall behind by before it is dropped.
MAX_QUEUED = 1000


#: Operations (subscriptions mostly) one websocket may run at once: Strawberry's cap,
#: checked before the operation is even parsed (see :class:`TransportWSHandler`).
MAX_SUBSCRIPTIONS = 100
_STRAWBERRY_REFUSAL = "Subscription limit reached"


class SubscriberTooSlow(GraphError):
    extensions = {"code": "TOO_SLOW"}


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler, whose refusal of an operation past
    ``max_subscriptions_per_connection`` names the limit as every refusal does."""

    async def send_message(self, message) -> None:
        payload = message.get("payload") if message.get("type") == "error" else None
        if payload and payload[0] == {"message": _STRAWBERRY_REFUSAL}:
            refusal = LimitExceeded(
                "max-subscriptions",
                MAX_SUBSCRIPTIONS,
                "this websocket runs that many operations already; complete one first",
            )
            message = {**message, "payload": [refusal.formatted]}
        await super().send_message(message)


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


class PinGraph(SchemaExtension):
    """Each operation reads the store once. A websocket shares one context between all
    its operations, so each gets its own copy holding the version current at its start."""

    def on_operation(self):
        ctx = self.execution_context.context
        # An HTTP request has a context of its own, pinned in get_context; a copy would
        # hide what other extensions write into it (the operation name, for metrics).
        if (
            isinstance(ctx, dict)
            and ctx.get("store") is not None
            and isinstance(ctx.get("request"), WebSocket)
        ):
            self.execution_context.context = {**ctx, "graph": ctx["store"].current}
        yield
