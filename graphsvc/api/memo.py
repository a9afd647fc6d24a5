"""Caches bounded in bytes, not in entries.

A cache of 256 entries keyed by the query text holds 256 documents of any size: 300
anonymous 1 MB documents pinned most of a gigabyte per process. Every cache of
documents here (parsed and validated documents, the persisted queries, prepared
queries, replayed answers) is a :class:`ByteLRU`: least recently used first out within
a budget in bytes, where an entry counts the text it is keyed by, what it holds and
:data:`ENTRY_BYTES` of bookkeeping.

* :data:`documents` is the one cache of per-document work, shared by every schema and
  app of the process: the ``document_cache_mb`` setting (default 32 megabytes).
* A document longer than :data:`MAX_CACHED_DOCUMENT` characters is never cached (it is
  parsed each time it comes): a legitimate client's documents are far smaller, and a
  large one in a cache costs more memory than parsing it again costs time.
* :func:`parse_document`: a document's one parse (:class:`Parsed`: the document with
  locations or the parse's error, and its operations' kinds), kept in :data:`documents`;
  the edge's checks (the response cache keeps only queries; a subscription is refused
  over POST, a mutation over GET), the cost estimate, validation and execution all
  read it.
* :class:`PerVersion`: a cache of the API's kept on each graph version (the response
  cache, the prepared queries), found once per version.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.language import DocumentNode, Node

T = TypeVar("T")

MiB = 1024 * 1024
#: Documents longer than this (characters) are never cached.
MAX_CACHED_DOCUMENT = 64 * 1024
#: Bookkeeping of one entry: the ordered dict's slot, the key tuple, the size.
ENTRY_BYTES = 256
#: What one parsed AST node holds (measured with tracemalloc: 320-440 bytes), and what
#: each token of a document parsed with locations adds (70-100 bytes).
NODE_BYTES = 400
TOKEN_BYTES = 100

_MISSING = object()


class ByteLRU:
    """A mapping bounded by the bytes its entries say they hold, least recently used
    dropped first. An entry over ``max_entry`` bytes (a quarter of the budget unless
    told) is not kept. Safe to use from several threads.

    >>> c = ByteLRU(1500, max_entry=1000)  # each entry counts ENTRY_BYTES (256) more
    >>> c.put("a", 1, 400), c.put("b", 2, 400), c.put("big", 3, 900)
    (True, True, False)
    >>> c.get("a"), c.put("c", 3, 400), c.get("b"), c.get("a"), c.bytes
    (1, True, None, 1, 1312)
    """

    def __init__(self, max_bytes: int, max_entry: int | None = None):
        self.max_bytes = max(0, max_bytes)
        self.max_entry = self.max_bytes // 4 if max_entry is None else max_entry
        self.bytes = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return default
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any, size: int) -> bool:
        """Keep ``value`` under ``key`` as ``size`` bytes; False when it is too big."""
        size += ENTRY_BYTES
        if size > self.max_entry or size > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped
        return True

    def resize(self, max_bytes: int) -> None:
        """Bound the cache to ``max_bytes`` (entries to a quarter of it), dropping the
        least recently used entries past it."""
        with self._lock:
            self.max_bytes = max(0, max_bytes)
            self.max_entry = self.max_bytes // 4
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


def text_bytes(*texts: str | bytes | None) -> int:
    """Memory held by these strings (a str of non-ASCII text takes 2 or 4 bytes a
    character)."""
    return sum(sys.getsizeof(t) for t in texts if t is not None)


def document_bytes(doc: Node | None) -> int:
    """An estimate of the memory a parsed document holds: its nodes and, when it was
    parsed with locations, its tokens (the source text is counted by the caller)."""
    if doc is None:
        return 0
    nodes, stack = 0, [doc]
    while stack:
        node = stack.pop()
        nodes += 1
        for k in node.keys:
            v = getattr(node, k, None)
            if isinstance(v, Node):
                stack.append(v)
            elif isinstance(v, tuple | list):
                stack.extend(x for x in v if isinstance(x, Node))
    tokens = 0
    loc = getattr(doc, "loc", None)
    token = loc.start_token if loc is not None else None
    while token is not None:
        tokens += 1
        token = token.next
    return nodes * NODE_BYTES + tokens * TOKEN_BYTES


#: The process's cache of per-document work (see the module docstring).
documents = ByteLRU(32 * MiB)


def cached(query: str, key: Hashable, compute: Callable[[], T], size: Callable[[T], int]) -> T:
    """``compute()``, kept in :data:`documents` under ``key`` as ``size(value)`` bytes
    plus the text of ``query``; a document over :data:`MAX_CACHED_DOCUMENT` characters
    is computed every time and never kept.

    ``compute`` may raise: nothing is kept then (as with ``functools.lru_cache``).
    """
    if not isinstance(query, str) or len(query) > MAX_CACHED_DOCUMENT:
        return compute()
    hit = documents.get(key, _MISSING)
    if hit is not _MISSING:
        return hit
    value = compute()
    documents.put(key, value, text_bytes(query) + size(value))
    return value


# -- the one parse of a document ---------------------------------------------------------

#: Documents longer than this are not cached.
MAX_CACHED_QUERY = MAX_CACHED_DOCUMENT


class Parsed:
    """The one parse of a document under a token limit: its ``document`` (parsed with
    locations, as errors need them) or the ``error`` the parse raised, and the kind of
    each operation (``kinds``: name -> kind, an anonymous one under None; empty when it
    does not parse). What every step of a request reads, the edge's checks and
    Strawberry's run alike (see :func:`parse`)."""

    __slots__ = ("query", "max_tokens", "document", "error", "kinds")

    def __init__(self, query: str, max_tokens: int | None) -> None:
        self.query, self.max_tokens = query, max_tokens
        self.document: DocumentNode | None = None
        self.error: Exception | None = None
        self.kinds: dict[str | None, OperationType] = {}
        try:
            self.document = parse(query, max_tokens=max_tokens)
        except (GraphQLError, RecursionError) as e:
            self.error = e.with_traceback(None)
            return
        self.kinds = {
            (d.name.value if d.name else None): d.operation
            for d in self.document.definitions
            if isinstance(d, OperationDefinitionNode)
        }

    def is_for(self, query: str, max_tokens: int | None) -> bool:
        return self.max_tokens == max_tokens and (self.query is query or self.query == query)

    def kind(self, operation_name: str | None) -> OperationType | None:
        """The kind of the operation ``operation_name`` selects (by name, or the only
        one); None when the document does not parse or names none.

        >>> parse_document('query Q { a } mutation M { b }', None).kind('M')
        <OperationType.MUTATION: 'mutation'>
        """
        kinds = self.kinds
        if operation_name is None:
            return next(iter(kinds.values())) if len(kinds) == 1 else None
        return kinds.get(operation_name)

    def is_query(self, operation_name: str | None) -> bool:
        """True when the operation ``operation_name`` selects is a query, as GraphQL
        selects it: by name, or the only operation when no name is given.

        >>> parse_document('{ a }', None).is_query(None)
        True
        >>> two = parse_document('query Q { a } mutation M { b }', None)
        >>> two.is_query('M'), two.is_query('Q'), two.is_query(None)
        (False, True, False)
        """
        return self.kind(operation_name) is OperationType.QUERY

    def raise_error(self) -> None:
        """Raise (a copy of) the parse's error: the cached one is shared by requests,
        and each request's error processing writes into its own (code, request id)."""
        e = self.error
        if isinstance(e, GraphQLError):
            raise GraphQLError(
                e.message,
                source=e.source,
                positions=e.positions,
                extensions=dict(e.extensions or {}),
            )
        if e is not None:
            raise RecursionError(str(e))


def parse_document(query: str, max_tokens: int | None) -> Parsed:
    """``query`` parsed once under the token limit ``max_tokens`` (a :class:`Parsed`),
    kept in :data:`documents` unless over :data:`MAX_CACHED_DOCUMENT` characters. A
    request keeps its own (``http_edge.RequestState.parse``), so that a document too
    long to be cached is still parsed once per request."""
    return cached(query, ("parsed", query, max_tokens), lambda: Parsed(query, max_tokens), _size)


def _size(parsed: Parsed) -> int:
    # An error points into the document's source: counted as the text (by ``cached``).
    return document_bytes(parsed.document) + 100 * len(parsed.kinds)


# -- per graph version --------------------------------------------------------------------


class PerVersion:
    """A cache of the API's kept on each graph version, in the version's own caches
    (``lg.derived.extra(owner, factory)``: a new version starts empty), and remembered
    for the last version it was found on (both by weak reference: an old version and
    its cache go when the version goes), so that the requests of one version do not
    look it up again. The cache must allow weak references (a :class:`ByteLRU` does).

    ``get(lg)`` makes it on first use; ``peek(lg)`` is None until it was made."""

    def __init__(self, owner: Hashable, factory: Callable[[], Any]) -> None:
        self.owner, self.factory = owner, factory
        self._last: tuple[weakref.ref, weakref.ref] | None = None

    def _remembered(self, lg) -> Any:
        last = self._last
        return last[1]() if last is not None and last[0]() is lg else None

    def get(self, lg) -> Any:
        found = self._remembered(lg)
        if found is None:
            found = lg.derived.extra(self.owner, self.factory)
            self._last = (weakref.ref(lg), weakref.ref(found))
        return found

    def peek(self, lg) -> Any:
        found = self._remembered(lg)
        if found is None:
            found = lg.derived.peek(self.owner)
            if found is not None:
                self._last = (weakref.ref(lg), weakref.ref(found))
        return found
