"""The /graphql endpoint's HTTP edge: small ASGI middlewares around the GraphQL view,
each one concern, composed in one place (:func:`graphql_endpoint`)."""

from __future__ import annotations

from starlette.types import ASGIApp

from ...config import mib
from ..websocket import WebSocketGuard
from .conditional_get import ConditionalGet
from .graphql_request import GraphQLRequestReader
from .not_ready import NotReady
from .persisted_queries import PersistedQueryFiller
from .response_cache import ResponseCache


def graphql_endpoint(view) -> ASGIApp:
    """The /graphql endpoint: ``view`` (``app.GraphQLApp``) answering behind, outermost
    first, the websocket checks, 503 while the graph loads, the request read once, the
    persisted document filled in, the GET query's 405 and ETag/304, and the response
    cache (the read token is checked before, by ``read_auth.ReadAuth``)."""
    app: ASGIApp = ResponseCache(view.answer, view.store, mib(view.settings.response_cache_mb))
    app = ConditionalGet(app, view.store, view.auth)
    app = PersistedQueryFiller(app, view.persisted)
    app = GraphQLRequestReader(app)
    app = NotReady(app, view.store, ide=view.graphql_ide is not None)
    return WebSocketGuard(app, view.settings.ws_ping_timeout)
