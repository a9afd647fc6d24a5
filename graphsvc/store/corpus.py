"""A live corpus whose files live in the store: the adapter between :class:`StoreSource`
and today's :class:`graphsvc.live.LiveCorpus`.

It reuses the live corpus' graph building, diffing and listeners (``subscribe``,
:class:`~graphsvc.live.Change`) and replaces where files come from and go to:

* :meth:`load` starts from this replica's own snapshot plus the log after it when it
  can (``snapshot+log``), else bulk-reads the store (``store``); the graph's version
  is the store's. The snapshot (:mod:`graphsvc.snapshot`, the folder's format) is
  keyed by the store's identity (``graphsvc_head.store_id``) and schema version and
  holds the version it was made at; it is rewritten atomically every
  ``snapshot_interval`` seconds while versions arrive and at shutdown. It also holds
  the token of its version (:mod:`.pg`, "Restores and rewinds"). A snapshot of another
  store, of a version the store no longer holds as it was (a store restored from a
  backup or rewound, whatever its version now), older than the pruned log, or damaged,
  means a bulk read.
* :meth:`start_watching` follows the store's change log; each logged version is applied
  as the graph version of the same number, so every replica agrees. A store found
  restored or rewound under a running replica is loaded whole when it is ahead of the
  replica's version (one change, at the store's version); when it is not, the graph is
  withdrawn (nothing is served) and ``on_rewound`` is called: a server restarts itself,
  since a process's versions only grow (ETags, the search index and analytics are keyed
  by them).
* Writes are bounded by ``write_timeout`` (:data:`.pg.WRITE_TIMEOUT`), transaction and
  read-your-writes wait together: past it a write fails with ``STORE_UNAVAILABLE`` and
  changed nothing, or, when its COMMIT got no answer, says it may have been applied and
  which version to check; a committed write whose version this replica cannot show in
  time is still answered as done, with its version.
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

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, snapshot
from ..errors import (
    LogPruned,
    Rewound,
    StoreUnavailable,
    UnknownURL,
    VersionConflict,
    WriteRefused,
)
from ..graph.model import LinkGraph
from ..graph.store import GraphStore
from ..graph.urls import canonical_url
from ..live import (
    MAX_BATCH,
    SNAPSHOT_INTERVAL,
    Change,
    LiveCorpus,
    Loaded,
    WriteResult,
    Written,
    new_file_name,
    prepare_article,
)
from .pg import SCHEMA_VERSION, WRITE_TIMEOUT, PgStore, Timeouts, abort_after, article_urls, outcome
from .source import StoreDelta, StoreSource

log = logging.getLogger("graphsvc.store")

#: How long a write waits for its own version to reach this replica's graph.
VISIBLE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class StoreWriteResult(WriteResult):
    """A write's result; ``committed`` is its version even when this replica could not
    show it in time (``graph`` is then the version before)."""

    committed: int | None = None

    @property
    def version(self) -> int:
        return self.committed if self.committed is not None else self.graph.version


@dataclass(slots=True)
class StoreKey(snapshot.Key):
    """What a replica's snapshot must match: this graphsvc and code (as a folder's), the
    store's identity (``root`` holds it) and its schema version."""

    schema: int = SCHEMA_VERSION

    def header(self) -> dict:
        return {
            "format": snapshot.FORMAT,
            "graphsvc": __version__,
            "code": snapshot.code_fingerprint(),
            "store": self.root,
            "store_schema": self.schema,
        }


def store_snapshot_path(store_id: str, folder: Path | None = None) -> Path:
    """Where the snapshot of the store ``store_id`` lives. Replicas of one store on one
    machine share it: each write is atomic and each snapshot a whole version."""
    name = hashlib.sha256(f"store:{store_id}".encode()).hexdigest()[:24]
    return (folder or snapshot.cache_dir()) / f"store-{name}.snapshot"


class StoreCorpus(LiveCorpus):
    """The store's articles as a live graph (see the module's docstring)."""

    #: Mutations may pass ``expectedVersion``.
    checks_versions = True

    def __init__(
        self,
        pg: PgStore,
        store: GraphStore | None = None,
        *,
        cache: bool = False,
        cache_dir: Path | None = None,
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        write_timeout: float = WRITE_TIMEOUT,
    ):
        super().__init__(".", store=store, load=False, snapshot_interval=snapshot_interval)
        self.root = pg.where  # shown where a folder's path would be; never a password
        self.pg = pg
        self.source = StoreSource(pg)
        self.cache = cache
        self._cache_dir = cache_dir
        self._applied = threading.Condition(threading.Lock())
        self._write_lock = threading.Lock()
        self._conn = None  # the write connection, reused while it works
        self._changes: dict[int, Change] = {}  # recent changes, for write results
        self._snapshot_version: int | None = None
        self._token: str | None = None  # the token of the graph's version
        self.write_timeout = write_timeout
        #: Called (from the follower's thread) when the store went back to at or below
        #: the served version: the graph is withdrawn first. A server restarts.
        self.on_rewound: Callable[[Rewound], None] | None = None
        self.rewound: Rewound | None = None

    # -- reading -----------------------------------------------------------------------
    def load(
        self,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> Loaded:
        """Serve the store's graph: from the snapshot plus the log when it can, else a
        bulk read. Nothing is served until the graph is current (a startup that fails,
        e.g. the store going away, leaves nothing behind and may be run again).
        ``self.loaded.source`` says how it started: ``snapshot+log`` (``reread``: the
        versions replayed from the log) or ``store``."""
        t0 = time.perf_counter()
        served, self.store = self.store, GraphStore()  # built aside, served when current
        try:
            note = None
            if self.cache:
                try:
                    return self._from_snapshot(t0, served)
                except snapshot.Rejected as e:
                    note = str(e)
            self._bulk(progress, on_total)
            self.snapshot_path = self._snapshot_path()
            if self.cache:
                try:
                    self.save_snapshot(background=True)
                except Exception as e:  # noqa: BLE001 - serve anyway, without a snapshot
                    note = f"{note}; no snapshot written: {e}"
            return self._started(t0, served, "store", note, 0)
        finally:
            if self.store is not served:
                self.store = served

    def _snapshot_path(self) -> Path | None:
        if not self.cache or not self.source.store_id:
            return None
        return store_snapshot_path(self.source.store_id, self._cache_dir)

    def _key(self) -> snapshot.Key:
        return StoreKey(self.source.store_id or "")

    def _from_snapshot(self, t0: float, served: GraphStore) -> Loaded:
        """Install the snapshot and replay the log after it; :class:`snapshot.Rejected`
        (why) when that cannot be done."""
        head = self.pg.head_row()
        self.source.store_id = head.store_id
        self.snapshot_path = self._snapshot_path()
        payload = snapshot.load(self.snapshot_path, self._key())
        if not isinstance(payload, dict) or "token" not in payload:
            raise snapshot.Rejected("snapshot holds no version token")
        why = self._install(payload)
        if why is not None:
            raise snapshot.Rejected(why)
        v = self.graph.version
        self._snapshot_version, self._token = v, payload["token"]
        try:
            # Rewound: the store no longer holds version v as the snapshot has it.
            replayed = self.source.replay(v, self._token, self._on_delta)
        except (LogPruned, Rewound) as e:
            raise snapshot.Rejected(str(e)) from None
        self._unsaved = replayed > 0
        return self._started(t0, served, "snapshot+log", None, replayed)

    def _snapshot_payload(self) -> dict:
        return {**super()._snapshot_payload(), "token": self._token}

    def _bulk(self, progress, on_total) -> None:
        version, parsed = self.source.load(progress=progress, on_total=on_total)
        self._token = self.source.applied_token
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

    def _started(
        self, t0: float, served: GraphStore, source: str, note: str | None, replayed: int
    ) -> Loaded:
        with self.lock:
            served.swap(self.store.current)
            self.store = served
        done = Loaded(time.perf_counter() - t0, source, note, self.snapshot_path, replayed)
        done._graph = served.current
        self.loaded = done
        log.info(
            "started from %s at version %d in %.2f s%s%s",
            source,
            served.current.version,
            done.seconds,
            f" ({replayed} versions replayed from the log)" if source == "snapshot+log" else "",
            f" (no snapshot used: {note})" if note else "",
        )
        with self._applied:
            self._applied.notify_all()
        return done

    def start_report(self) -> dict:
        """How this replica started, for /readyz."""
        done = self.loaded
        if done is None:
            return {}
        return {
            "start": done.source,
            "startVersion": done.graph.version,  # the version serving began at
            "snapshotVersion": self._snapshot_version if done.source == "snapshot+log" else None,
            "replayed": done.reread,
            "startSeconds": round(done.seconds, 3),
            "startNote": done.note,
        }

    def start_watching(self, *args: Any, **kw: Any) -> None:
        with self.lock:
            version, token = self.graph.version, self._token
        self.source.start(
            version,
            self._on_delta,
            idle=self._maybe_snapshot,
            reload=self._reload,
            rewound=self._rewound,
            token=token,
        )

    def _rewound(self, e: Rewound) -> None:
        """The store went back to at or below this replica's version: stop serving the
        graph it no longer holds (requests get NOT_READY), never a mix; no snapshot of it
        is written; then ``on_rewound`` (a server restarts itself and loads afresh)."""
        with self.lock:
            self.rewound = e
            self._unsaved = False
            self.cache = False
            self.store.swap(None)
        if self.on_rewound is not None:
            self.on_rewound(e)

    def _reload(self) -> int:
        """The log was pruned past this replica's version (it was cut off that long), or
        the store was restored or rewound and is now ahead of it: load the store whole
        and apply the difference as one version, the store's."""
        version, parsed = self.source.load()
        token = self.source.applied_token
        with self.lock:
            if version <= self.graph.version:  # went back meanwhile: no newer version
                raise Rewound(self.graph.version, version)
            self._token = token
            records = {p: rec for p, (rec, _) in parsed.items()}
            issues = {p: found for p, (_, found) in parsed.items()}
            for p in self._sigs:
                if p not in parsed:
                    records[p], issues[p] = None, []
            self._sigs = dict.fromkeys(parsed)
            change = self.apply(records, issues, version=version, force=True)
            if change is not None:
                self._changes[change.version] = change
        with self._applied:
            self._applied.notify_all()
        return version

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
            self._token = delta.token
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
    def _transaction(self, work: Callable) -> tuple[int | None, float]:
        """Run ``work(txn)`` in one store transaction on the reused write connection;
        retry once on a new connection if the old one had broken before committing.
        Returns the version committed (None: nothing to write) and the deadline of the
        whole write (:attr:`write_timeout` from now), which the wait to show it keeps."""
        deadline = time.monotonic() + self.write_timeout
        if self.rewound is not None:
            raise StoreUnavailable(
                f"{self.rewound}; this replica is restarting, nothing was changed"
            )
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
                        raise _with_version(e) from None
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
        return _with_version(e)

    def _result(self, committed: int | None, items: list, deadline: float) -> WriteResult:
        """The write's result once this replica shows ``committed``, waiting at most
        until ``deadline``; past it the result still names the committed version."""
        if committed is not None and not self.wait_for_version(
            committed, max(0.0, deadline - time.monotonic())
        ):
            log.warning(
                "version %d is committed but not yet in this replica's graph (store down?)",
                committed,
            )
        graph = self.graph
        change = self._changes.get(committed) if committed is not None else None
        if committed is not None and graph.version < committed:
            return StoreWriteResult(graph, None, items(graph), committed)
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

        committed, deadline = self._transaction(work)
        return self._result(
            committed, lambda graph: [Written(key_of[0], list(removed), False)], deadline
        )


def _with_version(e: StoreUnavailable) -> StoreUnavailable:
    """Name the version to check in the error's extensions when the outcome is unknown."""
    if e.maybe_committed and e.version is not None:
        e.extensions = {"code": "STORE_UNAVAILABLE", "maybeApplied": True, "version": e.version}
    return e


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
