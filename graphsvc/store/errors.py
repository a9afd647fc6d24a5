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


class VersionConflict(GraphError):
    """An ``expectedVersion`` check failed: the article changed after that version."""

    extensions = {"code": "CONFLICT"}


class StoreRefused(GraphError):
    """The store refused the write (e.g. the role may not write); nothing was changed."""

    extensions = {"code": "STORE_REFUSED"}


class LogPruned(StoreError):
    """The change log no longer holds every version after the one asked for (it was
    pruned past it): the reader must load the store whole."""

    def __init__(self, after: int, pruned: int):
        super().__init__(
            f"the store's log was pruned up to version {pruned}: the changes after version "
            f"{after} are no longer all there (load the store whole)"
        )
        self.after, self.pruned = after, pruned
