"""Apollo's automatic persisted queries at the edge: the document filled in by its hash."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import fastpath, transport
from ..persisted import APQError, PersistedQueries
from .request_state import GetQuery, RequestState, replay


class PersistedQueryFiller:
    """Fills in the document of a request that names a persisted query (registering
    one sent with its hash once it parses), POSTed or by GET; answers Apollo's errors
    (see ``persisted``). Runs after :class:`GraphQLRequestReader`, before the ETag and
    the response cache, so a persisted query is answered as the same query in full."""

    def __init__(self, app: ASGIApp, persisted: PersistedQueries) -> None:
        self.app, self.persisted = app, persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = RequestState.of(scope) if scope["type"] == "http" else None
        try:
            if state is not None and state.body is not None and b"persistedQuery" in state.body:
                body = self._filled_body(state.body, dict(state.payload))
                payload, problem = fastpath.checked_request(body)  # the document filled in
                if problem is not None:
                    await transport.error_for(scope, 400, problem)(scope, receive, send)
                    return
                state.body, state.payload = body, payload
                receive = replay([body], None, receive)
            elif state is not None and state.get is not None:
                get = state.get
                if get.extensions and "persistedQuery" in get.extensions:
                    refused = self._fill_get(scope, state, get)
                    if refused is not None:
                        await refused(scope, receive, send)
                        return
        except APQError as e:
            await _apq_error(scope, e)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _filled_body(self, body: bytes, payload: dict) -> bytes:
        """The POSTed body (``payload`` decoded) with the persisted document filled in
        (registering it when the client sent it with its hash). Raises APQError."""
        ext = payload.get("extensions")
        query, register = self.persisted.resolve(payload.get("query"), ext)
        if register is not None and query is not None and fastpath._operation_kinds(query):
            self.persisted.put(register, query)  # it parses: keep it
        if payload.get("query") is None and query is not None:
            payload["query"] = query
            return fastpath.encode_json_bytes(payload)
        return body

    def _fill_get(self, scope: Scope, state: RequestState, get: GetQuery):
        """Fill in a persisted GET query's document; a response to send instead when
        its ``extensions`` are not JSON. Raises APQError."""
        try:
            ext = fastpath.decode_json(get.extensions or "")
        except ValueError:
            return transport.error_for(scope, 400, "`extensions` is not valid JSON")
        resolved, register = self.persisted.resolve(get.query, ext)
        if register is not None and resolved is not None and fastpath._operation_kinds(resolved):
            self.persisted.put(register, resolved)
        if get.query is None and resolved is not None:
            get.query = resolved
            params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            items = [(k, v) for k, v in params.multi_items() if k != "query"]
            state.rewrite = [("query", resolved), *items]
        return None


def _apq_error(scope: Scope, e: APQError):
    # Apollo's clients read PERSISTED_QUERY_NOT_FOUND from the errors of a 200 (or of
    # a 400 with application/graphql-response+json, where it is a request error).
    media = transport.media_of(scope)
    status = 400 if e.request_error or media == transport.GRAPHQL_RESPONSE_JSON else 200
    return transport.error_for(scope, status, e.message, e.code)
