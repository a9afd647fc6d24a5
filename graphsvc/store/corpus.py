"""A live corpus whose files live in the store: the adapter between :class:`StoreSource`
and today's :class:`graphsvc.live.LiveCorpus`.

It reuses the live corpus' graph building, diffing and listeners (``subscribe``,
:class:`~graphsvc.live.Change`) and replaces where files come from and go to:

* :meth:`load` bulk-reads the store; the graph's version is the store's.
* :meth:`start_watching` follows the store's change log; each logged version is applied
  as the graph version of the same number, so every replica agrees.
* :meth:`upsert` / :meth:`delete` write one store transaction and return once this
  replica's graph has that version (read-your-writes); ``expected`` (per article) refuses
  a write when the article changed after the given version (:class:`VersionConflict`).

Unlike a folder, a file whose content does not parse is not served from an older good
version: the replica holds what the store holds, so a replica that followed a change and
one that loaded afresh have the same graph.

Integration point: ``_on_delta`` hands each logged delta, with the store's version, to
:meth:`LiveCorpus.apply`, the entry point every source of changes uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..graph.errors import UnknownURL
from ..graph.model import LinkGraph
from ..graph.store import GraphStore
from ..graph.urls import canonical_url
from ..live import (
    MAX_BATCH,
    Change,
    LiveCorpus,
    WriteRefused,
    WriteResult,
    Written,
    new_file_name,
    prepare_article,
)
from .errors import StoreUnavailable, VersionConflict
from .pg import PgStore, article_urls
from .source import StoreDelta, StoreSource

log = logging.getLogger("graphsvc.store")

#: How long a write waits for its own version to reach this replica's graph.
VISIBLE_TIMEOUT = 10.0


class StoreCorpus(LiveCorpus):
    """The store's articles as a live graph (see the module's docstring)."""

    #: Mutations may pass ``expectedVersion``.
    checks_versions = True

    def __init__(self, pg: PgStore, store: GraphStore | None = None):
        super().__init__(".", store=store, load=False)
        self.root = pg.where  # shown where a folder's path would be; never a password
        self.pg = pg
        self.source = StoreSource(pg)
        self._applied = threading.Condition(threading.Lock())
        self._write_lock = threading.Lock()
        self._conn = None  # the write connection, reused while it works
        self._changes: dict[int, Change] = {}  # recent changes, for write results

    # -- reading -----------------------------------------------------------------------
    def load(
        self,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> None:
        version, parsed = self.source.load(progress=progress, on_total=on_total)
        records = {path: rec for path, (rec, _) in parsed.items() if rec is not None}
        issues = {path: found for path, (_, found) in parsed.items() if found}
        with self.lock:
            self._set_state(self._new_state())
            self._sigs = dict.fromkeys(parsed)
            self.store.swap(
                self.state.apply(
                    None, records, issues, files=len(parsed), root=self.root, version=version
                )
            )
        with self._applied:
            self._applied.notify_all()

    def start_watching(self, *args: Any, **kw: Any) -> None:
        self.source.start(self.graph.version, self._on_delta)

    def stop_watching(self, timeout: float = 10) -> None:
        self.source.stop(timeout)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def refresh(self, paths=None):  # a store has no folder to rescan
        return None

    def retry(self):  # nor files to read again
        return None

    def _on_delta(self, delta: StoreDelta) -> None:
        with self.lock:
            current = self.graph
            if current is not None and delta.version <= current.version:
                return  # already applied: never twice
            records: dict = {}
            issues: dict = {}
            for path, parsed in delta.files.items():
                rec, found = parsed if parsed is not None else (None, [])
                records[path] = rec
                issues[path] = found
                if parsed is None:
                    self._sigs.pop(path, None)
                else:
                    self._sigs[path] = None
            # force: a version that changes nothing here is still the store's version.
            change = self.apply(records, issues, version=delta.version, force=True)
            if change is not None:
                self._changes[change.version] = change
                for v in [v for v in self._changes if v < change.version - 100]:
                    del self._changes[v]
        with self._applied:
            self._applied.notify_all()

    def wait_for_version(self, version: int, timeout: float = VISIBLE_TIMEOUT) -> bool:
        """Wait until this replica's graph has ``version``; False after ``timeout``."""
        self.source.poke()
        with self._applied:
            return self._applied.wait_for(
                lambda: self.graph is not None and self.graph.version >= version, timeout
            )

    # -- writing -----------------------------------------------------------------------
    def _transaction(self, work: Callable) -> int | None:
        """Run ``work(txn)`` in one store transaction on the reused write connection;
        retry once on a new connection if the old one had broken before committing."""
        with self._write_lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed or self._conn.broken:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    self._conn = self.pg.connect(timeout=2)
                try:
                    with self.pg.writing(self._conn) as txn:
                        work(txn)
                    return txn.committed
                except StoreUnavailable as e:
                    self._conn.close()
                    self._conn = None
                    if attempt == 2 or e.maybe_committed:
                        raise
            return None  # pragma: no cover

    def _result(self, committed: int | None, items: list) -> WriteResult:
        if committed is not None and not self.wait_for_version(committed):
            log.warning(
                "version %d is committed but not yet in this replica's graph (store down?)",
                committed,
            )
        graph = self.graph
        change = self._changes.get(committed) if committed is not None else None
        return WriteResult(graph, change, items(graph))

    def upsert(
        self,
        articles: Sequence[tuple[dict[str, Any], str | None]],
        expected: Sequence[int | None] | None = None,
    ) -> WriteResult:
        """Write each (front matter, body) as one store transaction, then wait until this
        replica shows it. ``expected[i]``: refuse unless article i is unchanged since
        that version."""
        if not articles:
            raise WriteRefused("no articles given")
        if len(articles) > MAX_BATCH:
            raise WriteRefused(f"at most {MAX_BATCH} articles per call (got {len(articles)})")
        many = len(articles) > 1
        expected = list(expected or [None] * len(articles))
        prepared = [
            prepare_article(fm, body, f"input {i + 1}" if many else "input")
            for i, (fm, body) in enumerate(articles)
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
            lg = self.graph
            claimed: dict[str, int] = {}
            for i, (data, rec) in enumerate(prepared):
                where = f"input {i + 1}" if many else "the input"
                keys = {k for u in rec.urls.values() if (k := lg.resolve(u)) is not None}
                docs = sorted(k for k in keys if not lg.data(k).is_stub)
                if len(docs) > 1:
                    raise WriteRefused(
                        f"the URLs of {where} name {len(docs)} different articles "
                        f"({', '.join(docs)}); an upsert describes one article"
                    )
                urls = set(article_urls(rec))
                local: list[str] = []
                if docs:
                    art = lg.data(docs[0])
                    urls.update(canonical_url(a) for a in art.aliases)
                    local = list(art.sources)
                found = txn.files_for(urls)
                paths = sorted(set(found) | {p for p in local if txn.exists(p)})
                for p in paths:
                    if p in claimed:
                        raise WriteRefused(
                            f"inputs {claimed[p] + 1} and {i + 1} describe the same article "
                            f"({p}); send it once"
                        )
                    claimed[p] = i
                _check(txn, urls, expected[i], where)
                created = not paths
                if created:
                    paths = [_free_name(txn, rec, claimed)]
                    claimed[paths[0]] = i
                for p in paths:
                    if txn.content(p) != data:
                        txn.put(p, data, article_urls(rec))
                plans.append((rec, paths, created))

        committed = self._transaction(work)

        def items(graph: LinkGraph) -> list[Written]:
            return [
                Written(graph.resolve(rec.primary_url) or canonical_url(rec.primary_url), ps, c)
                for rec, ps, c in plans
            ]

        return self._result(committed, items)

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """Delete the files of the article ``url`` names, in one store transaction."""
        removed: list[str] = []
        key_of: list[str] = []

        def work(txn) -> None:
            removed.clear()
            key_of.clear()
            lg = self.graph
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

        committed = self._transaction(work)
        return self._result(committed, lambda graph: [Written(key_of[0], list(removed), False)])


def _check(txn, urls, expected: int | None, where: str) -> None:
    if expected is None:
        return
    newer = txn.changed_after(urls, expected)
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
