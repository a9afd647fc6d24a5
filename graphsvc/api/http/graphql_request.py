"""Reading a /graphql request once: a POSTed JSON body, or a GET query's parameters."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import fastpath, transport
from .request_state import GetQuery, RequestState, is_json, read_body, replay


class GraphQLRequestReader:
    """Reads a POSTed JSON body once (refusing with 400 one that cannot run: not JSON,
    a batch, fields of the wrong type, a subscription) and a GET query's parameters
    once, into the request's :class:`RequestState`; what follows reads them there (the
    view gets the body replayed from memory)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        if method == "POST" and is_json(scope):
            body, message = await read_body(receive)
            if message is not None:  # the client went away
                await self.app(scope, replay([], message, receive), send)
                return
            payload, problem = fastpath.checked_request(body)
            if problem is not None:
                await transport.error_for(scope, 400, problem)(scope, receive, send)
                return
            state = RequestState.of(scope)
            state.body, state.payload = body, payload
            receive = replay([body], None, receive)
        elif method == "GET":
            params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            RequestState.of(scope).get = GetQuery(
                params.get("query"),
                params.get("variables"),
                params.get("operationName") or None,
                params.get("extensions"),
            )
        await self.app(scope, receive, send)
