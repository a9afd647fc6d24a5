"""What a resolver reads from its request: the graph version it answers from (one per
operation: :class:`PinGraph`), which fields and arguments the query wrote, and how a
slow analytics read runs off the loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from .. import graph as gl
from ..graph import analytics as ga
from ..graph.adjacency import node_attrs

T = TypeVar("T")


def graph(info: Info) -> gl.LinkGraph:
    """The graph version the operation reads (pinned when it began)."""
    return info.context["graph"]


def graph_of(info: Info, obj) -> gl.LinkGraph:
    """The graph ``obj`` (an article, provider or topic) belongs to: the request's,
    except in change events, which show objects of two versions (``graphs``)."""
    graphs = info.context.get("graphs")
    if graphs:
        for lg in graphs:
            node = node_attrs(lg.g).get(obj.key)
            if node is not None and node["data"] is obj:
                return lg
    return info.context["graph"]


def analytic(lg: gl.LinkGraph, name: str, read: Callable[[], T]) -> T | Awaitable[T]:
    """``read()`` now when analytics ``name`` is cached; else computed in a worker thread,
    so the first request on a big graph does not stop the server answering others."""
    if ga.ready(lg, name):
        return read()
    return run_in_threadpool(read)


def selected_names(info: Info) -> set[str | None] | None:
    """The names of the fields the field's selection asks for; None when unknown."""
    try:
        sels = info.selected_fields[0].selections
    except (AttributeError, IndexError):
        return None
    return {getattr(f, "name", None) for f in sels}


def writes_argument(info: Info, name: str) -> bool:
    """Whether the query writes the argument ``name`` (GraphQL spelling) on this field,
    whatever its value. Strawberry's public ``selected_fields`` holds the arguments
    written; a field without any has an empty dict (graphql-core 3.3's node has None)."""
    fields = info.selected_fields
    return bool(fields) and name in (getattr(fields[0], "arguments", None) or {})


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
