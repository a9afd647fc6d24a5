"""graphsvc's exceptions, one hierarchy. Their messages are safe to show: they never
carry a password (URLs in them are redacted).

* :class:`GraphError` (a ``ValueError``): a request that cannot be answered, the
  message says why; GraphQL shows it. :class:`UnknownURL` and :class:`BoundError`
  from the graph, :class:`LimitRefused` by a named limit, :class:`TryLater` and
  :class:`TooSlow`; :class:`AuthError` (:class:`ReadOnly`, :class:`Unauthenticated`)
  from the bearer tokens; :class:`WriteRefused` and :class:`WriteFailed` from a write;
  :class:`StoreUnavailable`, :class:`VersionConflict` and :class:`StoreRefused` from
  the PostgreSQL store.
* :class:`StoreError` (a ``RuntimeError``): the store cannot be used as it is;
  :class:`LogPruned` and :class:`Rewound` make a replica load the store whole.

They know nothing of GraphQL: the API gives each the code a client sees
(``api/error_codes.py``, one table).
"""

from __future__ import annotations


class GraphError(ValueError):
    """A request the graph cannot answer; the message says why."""


class UnknownURL(GraphError):
    """No article has this URL."""

    def __init__(self, url: str):
        super().__init__(f"unknown article URL: {url!r}")
        self.url = url


class BoundError(GraphError):
    """A parameter outside the bounds the service allows."""


class LimitRefused(GraphError):
    """A request refused (or stopped) by a named limit: ``limit`` is the setting that
    sets it (its ``graphsvc serve`` flag), ``maximum`` its value; the message names both."""

    def __init__(self, message: str, limit: str, maximum: object) -> None:
        super().__init__(message)
        self.limit, self.maximum = limit, maximum


class TryLater(GraphError):
    """Not ready yet (the search index is being built): ask again in ``retry_after``
    seconds."""

    retry_after = 2


class TooSlow(GraphError):
    """A subscriber fell too far behind the changes it follows; it may subscribe again."""


class AuthError(GraphError):
    """A request the bearer tokens do not allow."""


class ReadOnly(AuthError):
    """A write to a server that takes none."""


class Unauthenticated(AuthError):
    """No token, or the wrong one, where one is needed."""


class WriteRefused(GraphError):
    """The write was not attempted: invalid input, or an article that cannot be written."""


class WriteFailed(GraphError):
    """The file system refused a write; every file and the graph are as they were."""


class StoreError(RuntimeError):
    """The store cannot be used as it is (e.g. its schema is newer than this graphsvc)."""


class StoreUnavailable(GraphError):
    """The store could not be reached, or the connection broke; nothing was changed
    (unless the message says the outcome of a commit is unknown)."""

    #: True when the connection broke during COMMIT: the outcome is unknown.
    maybe_committed = False
    #: Then: the version the write would have made (it was applied iff the store's
    #: version of that number holds it).
    version: int | None = None


class VersionConflict(GraphError):
    """An ``expectedVersion`` check failed: the article changed after that version."""


class StoreRefused(GraphError):
    """The store refused the write (e.g. the role may not write); nothing was changed."""


class LogPruned(StoreError):
    """The change log no longer holds every version after the one asked for (it was
    pruned past it), or no longer holds that version itself to check it by: the reader
    must load the store whole."""

    def __init__(self, after: int, pruned: int):
        if pruned > after:
            why = f"the changes after version {after} are no longer all there"
        else:
            why = f"version {after} itself can no longer be checked"
        super().__init__(
            f"the store's log was pruned up to version {pruned}: {why} (load the store whole)"
        )
        self.after, self.pruned = after, pruned


class Rewound(StoreError):
    """The store no longer holds the history the reader has up to version ``after``: it
    was restored from a backup or rewound (its head is older than ``after``, or its
    version ``after`` is another change than the one read). The reader must load the
    store whole, at the store's version, even if that is older."""

    def __init__(self, after: int, head: int):
        older = f" (its head is version {head})" if head < after else ""
        super().__init__(
            f"the store was restored from a backup or rewound: its version {after} is not "
            f"the one this replica read{older} (load the store whole)"
        )
        self.after, self.head = after, head


def check_bound(name: str, value: int, low: int, high: int) -> int:
    """Raise :class:`BoundError` naming ``name`` unless ``low <= value <= high``."""
    if value is None or not low <= value <= high:
        raise BoundError(f"{name} must be between {low} and {high} (got {value})")
    return value
