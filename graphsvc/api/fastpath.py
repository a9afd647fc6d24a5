"""Fast answers: orjson encoding, operation kinds from the document cache, packed subgraphs.

* :func:`encode_json` encodes GraphQL responses with orjson (about 10x faster than the
  standard library), falling back to :mod:`json` for what orjson refuses (integers
  beyond 64 bits).
* :func:`is_query` and :func:`operation_kind` say what a document's operation is, from
  the process's document cache (the response cache, ``http.response_cache``, keeps only
  queries).
* ``neighborsPacked`` answers the ``neighbors`` question as one JSON value of arrays,
  built straight from the graph, for clients that draw thousands of nodes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.scalars import JSON
from strawberry.types import Info

from ..graph import traverse as gt
from . import memo
from .context import graph
from .maps import Direction, EdgeKind, node_label

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
    later step of the request (``http.request_state.RequestState.payload``)."""
    try:
        payload = decode_json(body)
    except json.JSONDecodeError as e:
        return None, f"the body is not valid JSON: {e.msg}"
    return payload, _payload_problem(payload)


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


# -- operation kinds ----------------------------------------------------------------------

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
