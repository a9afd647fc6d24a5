"""Fast answers: orjson encoding, a per-graph cache of whole responses, packed subgraphs.

* :func:`encode_json` encodes GraphQL responses with orjson (about 10x faster than the
  standard library), falling back to :mod:`json` for what orjson refuses (integers
  beyond 64 bits).
* :class:`ResponseCache` sits in front of the GraphQL view, behind its authorisation
  checks. A large answer to a query (POSTed, or by GET) is kept per graph version, keyed
  by query, variables, operation name and the negotiated media type, and the next
  identical request gets the same bytes
  without resolving anything. Only *query* operations are kept: the document is parsed
  and the operation ``operationName`` selects must be a query (mutations and
  subscriptions always run). The cache lives on the graph object, so a new graph
  version starts empty; it is bounded in bytes (least recently used answers go first).
  Only answers without errors and of at least ``min_bytes`` are kept: small answers are
  cheap to compute anyway.
* ``neighborsPacked`` answers the ``neighbors`` question as one JSON value of arrays,
  built straight from the graph, for clients that draw thousands of nodes.
"""

from __future__ import annotations

import json
import os
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.scalars import JSON
from strawberry.types import Info

from ..graph import traverse as gt
from . import memo, transport
from .types import Direction, EdgeKind, graph, node_label

# -- encoding -----------------------------------------------------------------------------


def encode_json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(data, separators=(",", ":"), default=str).encode()


def decode_json(data: str | bytes) -> object:
    """JSON as Strawberry expects it decoded: anything that is not JSON we can read
    (invalid UTF-8, nesting deeper than 1024, an integer of thousands of digits) raises
    :class:`json.JSONDecodeError`, which Strawberry answers 400 (a websocket, 4400)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        first = e
    try:
        return json.loads(data)  # reads what orjson won't: integers beyond 64 bits
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError, TypeError):
        raise json.JSONDecodeError(f"request is not JSON we accept: {first.msg}", "", 0) from None


def request_problem(body: bytes) -> str | None:
    """Why a POSTed JSON GraphQL request cannot run (None when it can): not JSON, not
    an object, fields of the wrong type, or a subscription (websocket only)."""
    return checked_request(body)[1]


def checked_request(body: bytes) -> tuple[Any, str | None]:
    """(the decoded body, :func:`request_problem`'s answer): read once, used by every
    later step of the request (``scope["state"]["graphql_request"]``)."""
    try:
        payload = decode_json(body)
    except json.JSONDecodeError as e:
        return None, f"the body is not valid JSON: {e.msg}"
    return payload, _payload_problem(payload)


def decoded(scope, body: bytes) -> Any:
    """``body`` decoded: as the GraphQL view's checks left it in ``scope`` when it is the
    same body, else read again (raises ValueError when it is not JSON)."""
    seen = (scope.get("state") or {}).get("graphql_request")
    if seen is not None and seen[0] is body:
        return seen[1]
    return decode_json(body)


def _payload_problem(payload) -> str | None:
    if isinstance(payload, list):
        return "batched requests (a JSON list) are not supported: send one operation per request"
    if not isinstance(payload, dict):
        kind = {type(None): "null", bool: "a boolean", str: "a string"}.get(
            type(payload), "a number"
        )
        return f"the body must be a JSON object, not {kind}"
    query = payload.get("query")
    for key, kind in (("query", str), ("operationName", str), ("variables", dict)):
        value = payload.get(key)
        if value is not None and not isinstance(value, kind):
            want = "a string" if kind is str else "an object"
            return f"`{key}` must be {want} or null"
    ext = payload.get("extensions")
    if ext is not None and not isinstance(ext, dict):
        return "`extensions` must be an object or null"
    if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY:
        kinds = _operation_kinds(query) or {}
        op = payload.get("operationName")
        kind = kinds.get(op) if op is not None or len(kinds) != 1 else next(iter(kinds.values()))
        if kind is OperationType.SUBSCRIPTION:
            return (
                "subscriptions are served over a websocket (graphql-transport-ws) at /graphql, "
                "not over POST"
            )
    return None


def encode_json(data: object) -> str:
    return encode_json_bytes(data).decode()


# -- whole-response cache -----------------------------------------------------------------

CACHE_BYTES_ENV = "GRAPHSVC_RESPONSE_CACHE_MB"
#: Documents longer than this are not cached (nor parsed here).
MAX_CACHED_QUERY = memo.MAX_CACHED_DOCUMENT
#: Parsing stops past this many tokens: such a document is not cached.
_MAX_TOKENS = 20_000


def _operation_kinds(query: str) -> dict[str | None, OperationType] | None:
    """Operation name -> kind of each operation of ``query`` (None: does not parse).
    An anonymous operation is under ``None``. Kept in the process's document cache
    (bounded in bytes; a document over ``MAX_CACHED_QUERY`` is never kept)."""

    def kinds():
        try:
            doc = parse(query, no_location=True, max_tokens=_MAX_TOKENS)
        except (GraphQLError, RecursionError):
            return None
        return {
            (d.name.value if d.name else None): d.operation
            for d in doc.definitions
            if isinstance(d, OperationDefinitionNode)
        }

    return memo.cached(query, ("kinds", query), kinds, _kinds_bytes)


def _kinds_bytes(kinds: dict | None) -> int:
    return memo.text_bytes(*(k for k in kinds or () if k)) + 100 * len(kinds or ())


def operation_kind(query: str, operation_name: str | None) -> OperationType | None:
    """The kind of the operation ``operation_name`` selects in ``query`` (by name, or the
    only one); None when the document does not parse, is too long, or names none.

    >>> operation_kind('query Q { a } mutation M { b }', 'M')
    <OperationType.MUTATION: 'mutation'>
    """
    if len(query) > MAX_CACHED_QUERY:
        return None
    kinds = _operation_kinds(query) or {}
    if operation_name is None:
        return next(iter(kinds.values())) if len(kinds) == 1 else None
    return kinds.get(operation_name)


def is_query(query: str, operation_name: str | None) -> bool:
    """True when the operation that ``operation_name`` selects in ``query`` is a query,
    as GraphQL selects it: by name, or the only operation when no name is given.

    >>> is_query('{ a }', None), is_query('mutation { a }', None)
    (True, False)
    >>> two = 'query Q { a } mutation M { b }'
    >>> is_query(two, 'M'), is_query(two, 'Q'), is_query(two, None)
    (False, True, False)
    """
    if len(query) > MAX_CACHED_QUERY:
        return False
    kinds = _operation_kinds(query)
    if not kinds:
        return False
    if operation_name is None:
        if len(kinds) != 1:
            return False
        (kind,) = kinds.values()
    else:
        kind = kinds.get(operation_name)
    return kind is OperationType.QUERY


#: The key of a graph version's answers in ``lg.derived`` (see :meth:`ResponseCache._cache`).
RESPONSES = "responses"


class ResponseCache:
    """ASGI wrapper of the GraphQL endpoint that replays identical large answers to
    queries (never to mutations or subscriptions).

    ``store.current`` must be the graph the wrapped app answers from. The caller must
    authorise the request before calling this (a replayed answer skips the view).
    """

    def __init__(self, app, store, max_bytes: int | None = None, min_bytes: int = 16 * 1024):
        self.app = app
        self.store = store
        if max_bytes is None:
            max_bytes = int(float(os.environ.get(CACHE_BYTES_ENV, "64")) * 1024 * 1024)
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes

    def _cache(self, lg) -> memo.ByteLRU:
        return lg.derived.extra(RESPONSES, lambda: memo.ByteLRU(self.max_bytes))

    async def __call__(self, scope, receive, send) -> None:
        lg = self.store.current
        method = scope.get("method") if scope["type"] == "http" else None
        if method not in ("GET", "POST") or lg is None or not self.max_bytes:
            await self.app(scope, receive, send)
            return
        if method == "GET":
            bodies: list[bytes] = []
            key = _get_key(scope)
        else:
            chunks = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    await self.app(scope, _replay([], message, receive), send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            bodies = [b"".join(chunks)]
            key = _key(scope, bodies[0])
        cache = self._cache(lg) if key is not None else None
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                headers, payload = hit
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
        start: dict = {}
        parts: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.app(
            scope, _replay(bodies, None, receive), capture if cache is not None else send
        )
        if cache is None or start.get("status") != 200:
            return
        payload = b"".join(parts)
        if len(payload) >= self.min_bytes and b'"errors":' not in payload:
            headers = list(start.get("headers", []))
            # The key counts too: its document and variables may be larger than the answer.
            size = memo.text_bytes(payload, key[0], key[1], key[2]) + 64 * len(headers)
            cache.put(key, (headers, payload), size)


def _get_key(scope):
    """The cache key of a GET query (as :func:`_key`'s for the same POSTed request)."""
    got = scope.get("state", {}).get("graphql_get")  # parsed by the view's GET checks
    if got is None:
        from starlette.datastructures import QueryParams  # noqa: PLC0415

        params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
        got = {k: params.get(k) for k in ("query", "variables", "operationName")}
    payload: dict = {"query": got["query"], "operationName": got["operationName"] or None}
    raw = got["variables"]
    if raw:
        try:
            payload["variables"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return _payload_key(scope, payload)


def _key(scope, body: bytes):
    """(query, variables, operation, media type) of a JSON GraphQL query; None when not
    cacheable."""
    headers = dict(scope.get("headers") or [])
    if b"json" not in headers.get(b"content-type", b""):
        return None
    try:
        payload = decoded(scope, body)
    except ValueError:
        return None
    return _payload_key(scope, payload)


def _payload_key(scope, payload):
    headers = dict(scope.get("headers") or [])
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    op = payload.get("operationName")
    if op is not None and not isinstance(op, str):
        return None
    if not is_query(payload["query"], op):
        return None
    variables = payload.get("variables") or {}
    try:
        var_key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return None
    # The answer's media type (and so its headers and status) follows the Accept header.
    accept = headers.get(b"accept", b"").decode("latin-1")
    return (payload["query"], var_key, op, transport.negotiate(accept))


def _replay(bodies: list[bytes], first, receive):
    """A ``receive`` that hands back what was already read, then the real one."""
    pending = [{"type": "http.request", "body": b, "more_body": False} for b in bodies]
    if first is not None:
        pending.append(first)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


# -- packed subgraphs ---------------------------------------------------------------------


def packed(lg, sub: gt.Subgraph) -> dict:
    """A subgraph as arrays: nodes ``[key, kind, label, distance]``, edges
    ``[source, target, kind, rank]``, built straight from the graph."""
    kind = lg.kind
    nodes = [[key, kind(key), node_label(lg, key), dist] for key, dist in sub.nodes]
    return {
        "nodes": nodes,
        "edges": [list(e) for e in sub.edges],
        "truncated": sub.truncated,
    }


@strawberry.type
class FastQuery:
    @strawberry.field(
        description="What `neighbors` answers, as one JSON value built straight from the "
        "graph: {nodes: [[key, kind, label, distance]], edges: [[source, target, kind, "
        "rank]], truncated}. Much faster than field-by-field selection for thousands of nodes."
    )
    def neighbors_packed(
        self,
        info: Info,
        url: str,
        depth: int = 1,
        direction: Direction = Direction.BOTH,
        edge_kinds: list[EdgeKind] | None = (EdgeKind.RELATED,),  # type: ignore[assignment]
        limit: int = 500,
    ) -> JSON:
        lg = graph(info)
        kinds = tuple(k.value for k in (edge_kinds or ()))
        sub = gt.neighborhood(lg, [lg.require(url)], depth, direction.value, kinds, limit)
        return packed(lg, sub)
