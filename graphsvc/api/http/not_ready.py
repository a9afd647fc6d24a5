"""503 NOT_READY while the graph loads."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .request_state import RequestState


class NotReady:
    """Answers an HTTP request 503 ``NOT_READY`` (``Retry-After: 1``) while ``store``
    has no graph, except a browser's request for GraphiQL's page (``ide``)."""

    def __init__(self, app: ASGIApp, store, ide: bool) -> None:
        self.app, self.store, self.ide = app, store, ide

    def _wants_page(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers", []))
        return (
            self.ide
            and scope.get("method") == "GET"
            and b"query=" not in scope.get("query_string", b"")
            and b"text/html" in headers.get(b"accept", b"")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.store.ready and not self._wants_page(scope):
            rid = RequestState.of(scope).request_id
            error = {
                "message": "the graph is still loading; retry shortly",
                "extensions": {"code": "NOT_READY", "requestId": rid},
            }
            response = JSONResponse(
                {"errors": [error]}, status_code=503, headers={"Retry-After": "1"}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
