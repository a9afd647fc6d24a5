"""Writing articles into a PostgreSQL store: one transaction per call, read-your-writes.

* Writes are bounded by ``write_timeout`` (:data:`graphsvc.store.pg.WRITE_TIMEOUT`),
  transaction and read-your-writes wait together: past it a write fails with
  ``STORE_UNAVAILABLE`` and changed nothing, or, when its COMMIT got no answer, says it
  may have been applied and which version to check; a committed write whose version
  this replica cannot show in time is still answered as done, with its version.
* :meth:`PostgresWriter.upsert` / :meth:`PostgresWriter.delete` write one store
  transaction and return once this replica's graph has that version; ``expected``
  (per article) refuses a write when the article changed after the given version
  (:class:`~graphsvc.errors.VersionConflict`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Rewound, StoreUnavailable, UnknownURL, VersionConflict, WriteRefused
from ..graph.model import LinkGraph
from ..graph.urls import canonical_url
from ..store.pg import WRITE_TIMEOUT, PgStore, Timeouts, abort_after, article_urls, outcome
from .articles import (
    Articles,
    check_batch,
    existing_article,
    input_name,
    new_file_name,
    prepare_article,
)
from .changes import Change, WriteResult, Written
from .corpus import Corpus

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("graphsvc.store")


@dataclass(frozen=True, slots=True)
class StoreWriteResult(WriteResult):
    """A store write's result; ``committed`` is its version even when this replica could
    not show it in time (``graph`` is then the version before)."""

    committed: int | None = None

    @property
    def version(self) -> int:
        return self.committed if self.committed is not None else self.graph.version


class PostgresWriter:
    """Upserts and deletes of the articles in the store ``pg``, shown by ``corpus``.

    ``rewound()`` is the store's going back under this replica, if it did (then writes
    are refused); ``wait_for_version(v, timeout)`` waits until the corpus shows ``v``;
    ``changes`` holds the recent versions' :class:`Change` by number."""

    def __init__(
        self,
        pg: PgStore,
        corpus: Corpus,
        *,
        rewound: Callable[[], Rewound | None],
        wait_for_version: Callable[[int, float], bool],
        changes: dict[int, Change],
        write_timeout: float = WRITE_TIMEOUT,
    ):
        self.pg = pg
        self.corpus = corpus
        self.rewound = rewound
        self.wait_for_version = wait_for_version
        self.changes = changes
        self.write_timeout = write_timeout
        self._write_lock = threading.Lock()
        self._conn: psycopg.Connection | None = None  # the write connection, reused while it works

    def close(self) -> None:
        """Close the write connection (a next write opens one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _transaction(self, work: Callable) -> tuple[int | None, float]:
        """Run ``work(txn)`` in one store transaction on the reused write connection;
        retry once on a new connection if the old one had broken before committing.
        Returns the version committed (None: nothing to write) and the deadline of the
        whole write (:attr:`write_timeout` from now), which the wait to show it keeps."""
        deadline = time.monotonic() + self.write_timeout
        rewound = self.rewound()
        if rewound is not None:
            raise StoreUnavailable(f"{rewound}; this replica is restarting, nothing was changed")
        if not self._write_lock.acquire(timeout=self.write_timeout):
            raise StoreUnavailable(
                f"the store {self.pg.where} did not answer an earlier write on this replica "
                f"within {self.write_timeout:g} s; nothing was changed"
            )
        try:
            for attempt in (1, 2):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timed_out(None)
                if self._conn is None or self._conn.closed or self._conn.broken:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    self._conn = self.pg.connect(
                        timeout=min(2, left), timeouts=Timeouts.for_writes(self.write_timeout)
                    )
                cut = None
                try:
                    with (
                        abort_after(self._conn, deadline - time.monotonic()) as cut,
                        self.pg.writing(self._conn) as txn,
                    ):
                        work(txn)
                    return txn.committed, deadline
                except StoreUnavailable as e:
                    self._conn.close()
                    self._conn = None
                    if cut is not None and cut.fired:
                        raise self._timed_out(e.version if e.maybe_committed else None) from None
                    if attempt == 2 or e.maybe_committed:
                        raise
            return None, deadline  # pragma: no cover
        finally:
            self._write_lock.release()

    def _timed_out(self, version: int | None) -> StoreUnavailable:
        """The write's time is up: nothing was changed, or (its COMMIT was sent) maybe."""
        e = StoreUnavailable(
            f"the store {self.pg.where} did not answer within {self.write_timeout:g} s; "
            + (outcome(version) if version is not None else "nothing was changed")
        )
        if version is not None:
            e.maybe_committed, e.version = True, version
        return e

    def _result(self, committed: int | None, items: Callable, deadline: float) -> WriteResult:
        """The write's result once this replica shows ``committed``, waiting at most
        until ``deadline``; past it the result still names the committed version."""
        if committed is not None and not self.wait_for_version(
            committed, max(0.0, deadline - time.monotonic())
        ):
            log.warning(
                "version %d is committed but not yet in this replica's graph (store down?)",
                committed,
            )
        graph = self.corpus.graph
        change = self.changes.get(committed) if committed is not None else None
        if committed is not None and graph.version < committed:
            return StoreWriteResult(graph, None, items(graph), committed)
        return WriteResult(graph, change, items(graph))

    def upsert(self, articles: Articles, expected: list[int | None] | None = None) -> WriteResult:
        """Write each (front matter, body) as one store transaction, then wait until this
        replica shows it. ``expected[i]``: refuse unless article i is unchanged since
        that version."""
        check_batch(articles)
        many = len(articles) > 1
        expected = list(expected or [None] * len(articles))
        prepared = [
            prepare_article(fm, body, input_name(i, many)) for i, (fm, body) in enumerate(articles)
        ]
        owner: dict[str, int] = {}
        for i, (_, rec) in enumerate(prepared):
            for u in article_urls(rec):
                j = owner.setdefault(u, i)
                if j != i:
                    raise WriteRefused(
                        f"inputs {j + 1} and {i + 1} describe the same article ({u}); send it once"
                    )
        plans: list[tuple[Any, list[str], bool]] = []

        def work(txn) -> None:
            plans.clear()
            lg = self.corpus.graph
            claimed: dict[str, int] = {}
            for i, (data, rec) in enumerate(prepared):
                plans.append(_plan(txn, lg, i, data, rec, many, expected[i], claimed))

        committed, deadline = self._transaction(work)

        def items(graph: LinkGraph) -> list[Written]:
            return [
                Written(graph.resolve(rec.primary_url) or canonical_url(rec.primary_url), ps, c)
                for rec, ps, c in plans
            ]

        return self._result(committed, items, deadline)

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """Delete the files of the article ``url`` names, in one store transaction."""
        removed: list[str] = []
        key_of: list[str] = []

        def work(txn) -> None:
            removed.clear()
            key_of.clear()
            lg = self.corpus.graph
            key = lg.resolve(url)
            urls, local = {canonical_url(url)}, []
            if key is not None:
                art = lg.data(key)
                if art.is_stub:
                    raise WriteRefused(
                        f"{key} is a stub, known only from related lists: it has no file to "
                        "delete (edit the articles that name it instead)"
                    )
                urls.update(canonical_url(a) for a in art.aliases)
                local = list(art.sources)
            found = txn.files_for(urls)
            paths = sorted(set(found) | {p for p in local if txn.exists(p)})
            if not paths:
                raise UnknownURL(url)
            _check(txn, urls, expected, "the article")
            for p in paths:
                txn.delete(p)
            removed.extend(paths)
            key_of.append(key or canonical_url(url))

        committed, deadline = self._transaction(work)
        return self._result(
            committed, lambda graph: [Written(key_of[0], list(removed), False)], deadline
        )


def _plan(txn, lg, i: int, data: bytes, rec, many: bool, expected, claimed: dict):
    """Write input ``i`` in ``txn``: (record, paths, created)."""
    where = input_name(i, many, the=True)
    doc = existing_article(lg, rec, where)
    urls = set(article_urls(rec))
    local: list[str] = []
    if doc is not None:
        art = lg.data(doc)
        urls.update(canonical_url(a) for a in art.aliases)
        local = list(art.sources)
    found = txn.files_for(urls)
    paths = sorted(set(found) | {p for p in local if txn.exists(p)})
    for p in paths:
        if p in claimed:
            raise WriteRefused(
                f"inputs {claimed[p] + 1} and {i + 1} describe the same article ({p}); send it once"
            )
        claimed[p] = i
    _check(txn, urls, expected, where)
    created = not paths
    if created:
        paths = [_free_name(txn, rec, claimed)]
        claimed[paths[0]] = i
    for p in paths:
        if txn.content(p) != data:
            txn.put(p, data, article_urls(rec))
    return rec, paths, created


def _check(txn, urls, expected: int | None, where: str) -> None:
    if expected is None:
        return
    newer = txn.changed_after(urls, expected)
    if newer is None and expected < (pruned := txn.pruned()):
        # A change at or below the horizon may be gone from the log: say so, never guess.
        raise VersionConflict(
            f"{where}: version {expected} is older than the store's log keeps (pruned up to "
            f"version {pruned}): read it again and retry with that version; nothing was written"
        )
    if newer is not None:
        raise VersionConflict(
            f"{where} changed after version {expected} (at version {newer}): read it again "
            "and retry with that version; nothing was written"
        )


def _free_name(txn, rec, taken) -> str:
    base = new_file_name(rec.primary_url, rec.title, rec.published_at)
    stem, ext = base.rsplit(".", 1)
    name, n = base, 1
    while name in taken or txn.exists(name):
        n += 1
        name = f"{stem}-{n}.{ext}"
    return name
