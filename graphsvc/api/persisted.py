"""Apollo's automatic persisted queries (APQ), over POST and GET.

A client sends ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": H}}``
without ``query``. When the server knows ``H`` it runs that document; when it does not
it answers with Apollo's error, ``{"message": "PersistedQueryNotFound", "extensions":
{"code": "PERSISTED_QUERY_NOT_FOUND"}}``, and the client sends the same request again
with ``query``: the server checks that ``H`` is the document's SHA-256 (hex), runs it,
and registers it once it parsed and validated (an answer that is not a request error).
A hash that does not match its document, or a version other than 1, is a request
error (400, ``BAD_REQUEST``).

The documents are kept per server process, least recently used first out, within
the ``persisted_queries_mb`` setting's megabytes (default 16; 0 turns APQ off, answered
``PERSISTED_QUERY_NOT_SUPPORTED``); a document over 64 KiB is run but not kept. A
persisted document runs exactly as the same document sent in full: after the read-token
check, under every limit.
"""

from __future__ import annotations

import hashlib
import re

from . import memo

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class APQError(Exception):
    """A persisted query that cannot run: ``code`` and ``status`` say how to answer."""

    def __init__(self, message: str, code: str, request_error: bool = True):
        super().__init__(message)
        self.message, self.code = message, code
        #: Not found / not supported are Apollo's protocol, not a bad request.
        self.request_error = request_error


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedQueries:
    """Hash -> document, bounded in bytes (``memo.ByteLRU``), least recently used dropped
    first. A document over ``memo.MAX_CACHED_DOCUMENT`` characters is not kept: it runs,
    and the client keeps sending it in full."""

    def __init__(self, max_bytes: int = 16 * memo.MiB):
        self.max_bytes = max_bytes
        self.items = memo.ByteLRU(max_bytes, max_entry=max_bytes // 2)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def bytes(self) -> int:
        return self.items.bytes

    def get(self, sha: str) -> str | None:
        return self.items.get(sha)

    def put(self, sha: str, query: str) -> None:
        if self.enabled and len(query) <= memo.MAX_CACHED_DOCUMENT:
            self.items.put(sha, query, memo.text_bytes(sha, query))

    def resolve(self, query: object, extensions: object) -> tuple[str | None, str | None]:
        """(the document to run, the hash to register once it ran well) for a request's
        ``query`` and ``extensions``. (query, None) when it asks for no persisted query.
        Raises :class:`APQError` when it cannot run."""
        pq = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if pq is None:
            return (query if isinstance(query, str) else None), None
        if not self.enabled:
            raise APQError("PersistedQueryNotSupported", NOT_SUPPORTED, request_error=False)
        if not isinstance(pq, dict):
            raise APQError("`extensions.persistedQuery` must be an object", "BAD_REQUEST")
        if pq.get("version") != 1:
            raise APQError(
                "Unsupported persisted query version: only version 1 is supported",
                "BAD_REQUEST",
            )
        sha = pq.get("sha256Hash")
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise APQError(
                "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits",
                "BAD_REQUEST",
            )
        sha = sha.lower()
        if query is None:
            known = self.get(sha)
            if known is None:
                raise APQError("PersistedQueryNotFound", NOT_FOUND, request_error=False)
            return known, None
        if not isinstance(query, str):
            return None, None  # the request's own checks refuse it
        if sha256_hex(query) != sha:
            raise APQError("provided sha does not match query", "BAD_REQUEST")
        if len(query) > memo.MAX_CACHED_DOCUMENT:
            return query, None  # not kept (see put): not even parsed to be registered
        return query, (sha if self.get(sha) is None else None)
