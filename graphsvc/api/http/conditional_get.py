"""GET queries: mutations refused (405), answers named by an ETag, 304 when the client
has it (see ``transport`` for what an ETag depends on)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import fastpath, transport
from ..auth import Auth
from .request_state import RequestState


class ConditionalGet:
    """For a GET query: refuses a mutation or subscription (405), computes the ETag of
    a query's answer on the current graph, answers 304 when ``If-None-Match`` has it,
    and otherwise adds it and the cache headers to a 200 answer without errors."""

    def __init__(self, app: ASGIApp, store, auth: Auth) -> None:
        self.app, self.store, self.auth = app, store, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = RequestState.of(scope) if scope["type"] == "http" else None
        get = state.get if state is not None else None
        if state is None or get is None or not isinstance(get.query, str):
            await self.app(scope, receive, send)  # GraphiQL's page, or the view's answer
            return
        kind = fastpath.operation_kind(get.query, get.operation_name)
        if kind is not None and kind is not fastpath.OperationType.QUERY:
            hint = " (subscriptions over the graphql-transport-ws websocket)"
            refused = transport.error_for(
                scope,
                405,
                f"{kind.value}s are not allowed over GET: send them by POST"
                + (hint if kind is fastpath.OperationType.SUBSCRIPTION else ""),
                "METHOD_NOT_ALLOWED",
                headers={"Allow": "POST"},
            )
            await refused(scope, receive, send)
            return
        tag = self._etag(scope, state)
        if tag is not None:
            headers = dict(scope.get("headers") or ())
            if transport.matches(headers.get(b"if-none-match", b"").decode("latin-1"), tag):
                response = Response(status_code=304, headers={"ETag": tag, **self.cache_headers()})
                await response(scope, receive, send)
                return
            send = _with_cache_headers(send, tag, self.cache_headers())
        await self.app(scope, receive, send)

    def _etag(self, scope: Scope, state: RequestState) -> str | None:
        """The ETag of the GET query's answer on the current graph (None: not a query
        that can have one)."""
        get = state.get
        lg = self.store.current
        if get is None or lg is None or not isinstance(get.query, str):
            return None
        if not fastpath.is_query(get.query, get.operation_name):
            return None
        try:
            variables = fastpath.decode_json(get.variables) if get.variables else None
        except ValueError:
            return None  # the view refuses it
        media = transport.media_of(scope)
        state.etag = transport.etag(lg, media, get.query, variables, get.operation_name)
        return state.etag

    def cache_headers(self) -> dict[str, str]:
        private = self.auth.reads_need_token
        return {
            "Cache-Control": transport.cache_control(private),
            "Vary": "Accept, Authorization" if private else "Accept",
        }


def _with_cache_headers(send: Send, tag: str, headers: dict[str, str]) -> Send:
    """A ``send`` that adds the ETag and cache headers to a 200 answer without errors
    (held until its body is seen; a streamed answer passes unchanged)."""
    held: Message | None = None
    extra = [(b"etag", tag.encode())] + [
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    ]

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            if message.get("status") == 200:
                held = message
                return
            await send(message)
            return
        if message["type"] == "http.response.body" and held is not None:
            start, held = held, None
            body = message.get("body", b"")
            if not message.get("more_body") and b'"errors":' not in body:
                start = {**start, "headers": [*start.get("headers", []), *extra]}
            await send(start)
        await send(message)

    return wrapped
