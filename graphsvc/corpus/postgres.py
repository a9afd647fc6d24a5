"""A PostgreSQL store as a :class:`~graphsvc.corpus.source.Source` (see docs/fleet.md).

Here, not under :mod:`graphsvc.store`, because it is the store seen from a corpus (the
folder source's sibling); :mod:`graphsvc.store` holds the database side (tables, the
change log, :class:`~graphsvc.store.feed.StoreFeed` reading it) and knows nothing
of graphs.

* :meth:`PostgresSource.load` starts from this replica's own snapshot plus the log
  after it when it can (``snapshot+log``), else bulk-reads the store (``store``); the
  graph's version is the store's. The snapshot (:mod:`graphsvc.snapshot`, the folder's
  format) is keyed by the store's identity (``graphsvc_head.store_id``) and schema
  version and holds the version it was made at; it is rewritten atomically every
  ``snapshot_interval`` seconds while versions arrive and at shutdown. It also holds
  the token of its version (:mod:`graphsvc.store.pg`, "Restores and rewinds"). A
  snapshot of another store, of a version the store no longer holds as it was (a store
  restored from a backup or rewound, whatever its version now), older than the pruned
  log, or damaged, means a bulk read.
* :meth:`PostgresSource.follow` follows the store's change log; each logged version is
  applied as the graph version of the same number, so every replica agrees. A store
  found restored or rewound under a running replica is loaded whole when it is ahead
  of the replica's version (one change, at the store's version); when it is not, the
  graph is withdrawn (nothing is served) and ``on_rewound`` is called: a server
  restarts itself, since a process's versions only grow (ETags, the search index and
  analytics are keyed by them).
* Writes are :class:`~graphsvc.corpus.postgres_writer.PostgresWriter`'s.

Unlike a folder, a file whose content does not parse is not served from an older good
version: the replica holds what the store holds, so a replica that followed a change and
one that loaded afresh have the same graph.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, snapshot
from ..config import default_cache_dir
from ..errors import LogPruned, Rewound
from ..graph.current import GraphStore
from ..store.feed import StoreDelta, StoreFeed
from ..store.pg import SCHEMA_VERSION, WRITE_TIMEOUT, PgStore
from .articles import Articles
from .changes import Change, Loaded, WriteResult
from .corpus import Corpus
from .postgres_writer import PostgresWriter
from .snapshots import SNAPSHOT_INTERVAL, SnapshotWriter

log = logging.getLogger("graphsvc.store")

#: How long a write waits for its own version to reach this replica's graph.
VISIBLE_TIMEOUT = 10.0


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
    return (folder or default_cache_dir()) / f"store-{name}.snapshot"


def store_corpus(
    pg: PgStore,
    store: GraphStore | None = None,
    *,
    cache: bool = False,
    cache_dir: Path | None = None,
    snapshot_interval: float = SNAPSHOT_INTERVAL,
    write_timeout: float = WRITE_TIMEOUT,
) -> Corpus:
    """The corpus of the store ``pg`` (not loaded yet). ``cache``: keep a snapshot (in
    ``cache_dir``); ``write_timeout``: see :class:`PostgresWriter`."""
    source = PostgresSource(pg, cache_dir=cache_dir, write_timeout=write_timeout)
    snapshots = None
    if cache:  # its path is known once the store's identity is
        snapshots = SnapshotWriter(None, source.snapshot_key, snapshot_interval, pg.where)
    return Corpus(source, store, snapshots=snapshots)


class PostgresSource:
    """The store's articles as a corpus's source (see the module's docstring)."""

    #: Writes may pass ``expected`` versions (``expectedVersion``).
    checks_versions = True

    def __init__(
        self, pg: PgStore, *, cache_dir: Path | None = None, write_timeout: float = WRITE_TIMEOUT
    ):
        self.where = pg.where  # shown where a folder's path would be; never a password
        self.pg = pg
        #: The store's change log: bulk read and followed.
        self.feed = StoreFeed(pg)
        self.corpus: Corpus = None  # type: ignore[assignment]  # set by attach()
        self._cache_dir = cache_dir
        self._applied = threading.Condition(threading.Lock())
        self.changes: dict[int, Change] = {}  # recent changes, for write results
        self._snapshot_version: int | None = None
        self._token: str | None = None  # the token of the graph's version
        #: Called (from the follower's thread) when the store went back to at or below
        #: the served version: the graph is withdrawn first. A server restarts.
        self.on_rewound: Callable[[Rewound], None] | None = None
        self.rewound: Rewound | None = None
        self._write_timeout = write_timeout
        self.writer: PostgresWriter = None  # type: ignore[assignment]  # set by attach()

    def attach(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.writer = PostgresWriter(
            self.pg,
            corpus,
            rewound=lambda: self.rewound,
            wait_for_version=self.wait_for_version,
            changes=self.changes,
            write_timeout=self._write_timeout,
        )

    # -- snapshots ------------------------------------------------------------------------
    def snapshot_key(self) -> snapshot.Key:
        return StoreKey(self.feed.store_id or "")

    def snapshot_fields(self) -> dict[str, Any]:
        return {"token": self._token}

    def _caching(self) -> bool:
        snaps = self.corpus.snapshots
        return snaps is not None and snaps.enabled

    def _locate_snapshot(self) -> None:
        """The snapshot's path, now that the store's identity is known."""
        snaps = self.corpus.snapshots
        if snaps is not None:
            store_id = self.feed.store_id
            snaps.path = store_snapshot_path(store_id, self._cache_dir) if store_id else None

    # -- reading -----------------------------------------------------------------------
    def load(
        self,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_files: Callable[[int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> Loaded:
        """Serve the store's graph: from the snapshot plus the log when it can, else a
        bulk read. Nothing is served until the graph is current (a startup that fails,
        e.g. the store going away, leaves nothing behind and may be run again).
        ``corpus.loaded.source`` says how it started: ``snapshot+log`` (``reread``: the
        versions replayed from the log) or ``store``."""
        corpus = self.corpus
        t0 = time.perf_counter()
        served, corpus.store = corpus.store, GraphStore()  # built aside, served when current
        try:
            note = None
            if self._caching():
                try:
                    return self._from_snapshot(t0, served)
                except snapshot.Rejected as e:
                    note = str(e)
            self._bulk(progress, on_files, on_phase)
            self._locate_snapshot()
            if self._caching():
                try:
                    corpus.save_snapshot(background=True)
                except Exception as e:  # noqa: BLE001 - serve anyway, without a snapshot
                    note = f"{note}; no snapshot written: {e}"
            return self._started(t0, served, "store", note, 0)
        finally:
            if corpus.store is not served:
                corpus.store = served

    def _from_snapshot(self, t0: float, served: GraphStore) -> Loaded:
        """Install the snapshot and replay the log after it; :class:`snapshot.Rejected`
        (why) when that cannot be done."""
        corpus = self.corpus
        head = self.pg.head_row()
        self.feed.store_id = head.store_id
        self._locate_snapshot()
        assert corpus.snapshots is not None  # _caching(): there is a snapshot writer
        payload = snapshot.load(corpus.snapshots.known_path(), self.snapshot_key())
        if not isinstance(payload, dict) or "token" not in payload:
            raise snapshot.Rejected("snapshot holds no version token")
        why = corpus.install(payload)
        if why is not None:
            raise snapshot.Rejected(why)
        v = corpus.graph.version
        self._snapshot_version, self._token = v, payload["token"]
        try:
            # Rewound: the store no longer holds version v as the snapshot has it.
            replayed = self.feed.replay(v, self._token, self._on_delta)
        except (LogPruned, Rewound) as e:
            raise snapshot.Rejected(str(e)) from None
        corpus.snapshots.unsaved = replayed > 0
        return self._started(t0, served, "snapshot+log", None, replayed)

    def _bulk(self, progress, on_files, on_phase) -> None:
        corpus = self.corpus
        version, parsed = self.feed.load(progress=progress, on_total=on_files)
        if on_phase:
            on_phase("graph")
        self._token = self.feed.applied_token
        records = {path: rec for path, (rec, _) in parsed.items() if rec is not None}
        issues = {path: found for path, (_, found) in parsed.items() if found}
        with corpus.lock:
            state = corpus.new_state()
            corpus.set_state(state)
            corpus.sigs = dict.fromkeys(parsed)
            corpus.store.swap(
                state.apply(
                    None, records, issues, files=len(parsed), root=corpus.root, version=version
                )
            )

    def _started(
        self, t0: float, served: GraphStore, source: str, note: str | None, replayed: int
    ) -> Loaded:
        corpus = self.corpus
        with corpus.lock:
            served.swap(corpus.store.current)
            corpus.store = served
        done = Loaded(time.perf_counter() - t0, source, note, corpus.snapshot_path, replayed)
        done._graph = served.current
        corpus.loaded = done
        log.info(
            "started from %s at version %d in %.2f s%s%s",
            source,
            corpus.graph.version,
            done.seconds,
            f" ({replayed} versions replayed from the log)" if source == "snapshot+log" else "",
            f" (no snapshot used: {note})" if note else "",
        )
        with self._applied:
            self._applied.notify_all()
        return done

    def start_report(self) -> dict:
        """How this replica started, for /readyz."""
        done = self.corpus.loaded
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

    # -- following -------------------------------------------------------------------------
    def follow(self, **options: Any) -> None:
        """Follow the store's change log from a background thread until :meth:`stop`."""
        corpus = self.corpus
        with corpus.lock:
            version, token = corpus.graph.version, self._token
        self.feed.start(
            version,
            self._on_delta,
            idle=corpus.maybe_snapshot,
            reload=self._reload,
            rewound=self._rewound,
            token=token,
        )

    def stop(self, timeout: float = 10) -> None:
        """Stop following the log; close the write connection."""
        self.feed.stop(timeout)
        self.writer.close()

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Wake the follower to read the log now (the change arrives through it)."""
        self.feed.poke()
        return None

    def _rewound(self, e: Rewound) -> None:
        """The store went back to at or below this replica's version: stop serving the
        graph it no longer holds (requests get NOT_READY), never a mix; no snapshot of it
        is written; then ``on_rewound`` (a server restarts itself and loads afresh)."""
        corpus = self.corpus
        with corpus.lock:
            self.rewound = e
            if corpus.snapshots is not None:
                corpus.snapshots.unsaved = False
                corpus.snapshots.enabled = False
            corpus.store.swap(None)
        if self.on_rewound is not None:
            self.on_rewound(e)

    def _reload(self) -> int:
        """The log was pruned past this replica's version (it was cut off that long), or
        the store was restored or rewound and is now ahead of it: load the store whole
        and apply the difference as one version, the store's."""
        corpus = self.corpus
        version, parsed = self.feed.load()
        token = self.feed.applied_token
        with corpus.lock:
            if version <= corpus.graph.version:  # went back meanwhile: no newer version
                raise Rewound(corpus.graph.version, version)
            self._token = token
            records = {p: rec for p, (rec, _) in parsed.items()}
            issues = {p: found for p, (_, found) in parsed.items()}
            for p in corpus.sigs:
                if p not in parsed:
                    records[p], issues[p] = None, []
            corpus.sigs = dict.fromkeys(parsed)
            change = corpus.apply(records, issues, version=version, force=True)
            if change is not None:
                self.changes[change.version] = change
        with self._applied:
            self._applied.notify_all()
        return version

    def _on_delta(self, delta: StoreDelta) -> None:
        corpus = self.corpus
        with corpus.lock:
            current = corpus.graph
            if current is not None and delta.version <= current.version:
                return  # already applied: never twice
            records: dict = {}
            issues: dict = {}
            for path, parsed in delta.files.items():
                rec, found = parsed if parsed is not None else (None, [])
                records[path] = rec
                issues[path] = found
                if parsed is None:
                    corpus.sigs.pop(path, None)
                else:
                    corpus.sigs[path] = None
            # force: a version that changes nothing here is still the store's version.
            change = corpus.apply(records, issues, version=delta.version, force=True)
            self._token = delta.token
            if change is not None:
                self.changes[change.version] = change
                for v in [v for v in self.changes if v < change.version - 100]:
                    del self.changes[v]
        with self._applied:
            self._applied.notify_all()

    def wait_for_version(self, version: int, timeout: float = VISIBLE_TIMEOUT) -> bool:
        """Wait until this replica's graph has ``version``; False after ``timeout``."""
        self.feed.poke()
        with self._applied:
            return self._applied.wait_for(
                lambda: self.corpus.graph is not None and self.corpus.graph.version >= version,
                timeout,
            )

    # -- writing -----------------------------------------------------------------------
    def upsert(self, articles: Articles, expected: list[int | None] | None = None) -> WriteResult:
        """See :meth:`PostgresWriter.upsert`."""
        return self.writer.upsert(articles, expected)

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """See :meth:`PostgresWriter.delete`."""
        return self.writer.delete(url, expected)
