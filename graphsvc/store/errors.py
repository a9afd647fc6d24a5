"""Errors of the PostgreSQL store. Their messages are safe to show: they never carry a
password (URLs in them are redacted)."""

from __future__ import annotations

from ..graph.errors import GraphError


class StoreError(RuntimeError):
    """The store cannot be used as it is (e.g. its schema is newer than this graphsvc)."""


class StoreUnavailable(GraphError):
    """The store could not be reached, or the connection broke; nothing was changed
    (unless the message says the outcome of a commit is unknown)."""

    extensions = {"code": "STORE_UNAVAILABLE"}
    #: True when the connection broke during COMMIT: the outcome is unknown.
    maybe_committed = False
    #: Then: the version the write would have made (it was applied iff the store's
    #: version of that number holds it).
    version: int | None = None


class VersionConflict(GraphError):
    """An ``expectedVersion`` check failed: the article changed after that version."""

    extensions = {"code": "CONFLICT"}


class StoreRefused(GraphError):
    """The store refused the write (e.g. the role may not write); nothing was changed."""

    extensions = {"code": "STORE_REFUSED"}


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
