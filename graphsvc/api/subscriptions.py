"""Live updates: the graphChanged subscription (graphql-transport-ws on /graphql), and
the extension that gives each operation one graph version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from ..graph.errors import GraphError
from ..live import Change
from .types import LoadIssue, load_report

#: Changes a subscriber may fall behind by before it is dropped.
MAX_QUEUED = 1000


class SubscriberTooSlow(GraphError):
    extensions = {"code": "TOO_SLOW"}


@strawberry.type(description="One new graph version and the article URLs it touched.")
class GraphChange:
    version: int
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
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple | None] = asyncio.Queue()

        def put(change: Change) -> None:  # in the loop; None marks an overflow
            queue.put_nowait(change if queue.qsize() < MAX_QUEUED else None)

        def listener(change: Change) -> None:  # in the thread that applied the change
            paths = set(change.files)
            report = [i for i in load_report(live.graph) if i.path in paths]
            loop.call_soon_threadsafe(put, (change, report))

        unsubscribe = live.subscribe(listener)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    raise SubscriberTooSlow(
                        f"more than {MAX_QUEUED} changes were waiting; subscribe again"
                    )
                change, report = item
                yield GraphChange(
                    version=change.version,
                    added=change.added,
                    changed=change.changed,
                    removed=change.removed,
                    files=list(change.files),
                    load_report=report,
                )
        finally:
            unsubscribe()


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
