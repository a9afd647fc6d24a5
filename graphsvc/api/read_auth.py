"""The read token at the HTTP edge: with ``--read-token`` every HTTP read needs it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import READ_DENIED_MESSAGE, Auth

#: The GraphQL endpoint, by the methods its route serves (another method is the
#: router's 405, as without a token).
GRAPHQL_PATH = "/graphql"
GRAPHQL_METHODS = frozenset({"GET", "HEAD", "POST"})
#: The pages and downloads that show articles.
READ_PREFIXES = ("/map", "/export/", "/schema.graphql")


class ReadAuth:
    """Refuses, with 401 and a GraphQL JSON error, an HTTP read of /graphql or of a page
    or download that shows articles (``prefixes``) without a read token, when ``auth``
    asks for one. The one check of HTTP requests; a websocket is checked at its
    ``connection_init`` (``GraphQLApp.on_ws_connect``), where its token may be."""

    def __init__(self, app: ASGIApp, auth: Auth, prefixes: tuple[str, ...] = READ_PREFIXES):
        self.app, self.auth, self.prefixes = app, auth, prefixes

    def _guards(self, scope: Scope) -> bool:
        path = scope["path"]
        if path == GRAPHQL_PATH:
            return scope.get("method") in GRAPHQL_METHODS
        return path.startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.auth.reads_need_token
            and self._guards(scope)
            and not self.auth.may_read(Headers(scope=scope))
        ):
            body = {"errors": [{"message": READ_DENIED_MESSAGE}]}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)
