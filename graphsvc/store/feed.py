"""The store's change feed: the whole store as records, then every change.

What :class:`graphsvc.corpus.postgres.PostgresSource` reads the store with (a corpus's
source, as a folder is). It knows nothing of graphs or of corpora; a consumer calls::

    feed = StoreFeed(PgStore.open(url))
    version, files = feed.load(progress=advance)       # {path: (record, issues)}
    # build the graph of ``files`` as version ``version``, then:
    feed.start(since=version, apply=on_delta)          # a background thread
    ...
    feed.stop()

``on_delta(delta)`` is called with each :class:`StoreDelta` in version order, exactly
once per version: ``delta.files`` maps each path the change touched to its new
``(record, issues)`` (parsed by :func:`graphsvc.files.parse_bytes`, so validation is a
folder's) or to None when the file was deleted; the consumer makes ``delta.version`` its
next graph version (``Corpus.apply(..., version=delta.version)``).
If ``on_delta`` raises, the same delta is offered again after a pause: a change is
never skipped.

A consumer that already holds the store at some version (a replica's own snapshot)
skips the bulk read: ``source.replay(since, token, on_delta)`` applies the log after
``since`` at once and says how many versions it applied, or raises :class:`LogPruned`
when the log was pruned past ``since``, or :class:`Rewound` when the store's version
``since`` is not the one the consumer holds (the store was restored from a backup or
rewound; ``token`` is the version's token, :attr:`StoreDelta.token`): then load whole.
While following, a consumer that falls behind the pruned horizon (it was cut off that
long), or whose history the store no longer holds while the store is ahead of it, is
reloaded through the ``reload`` callback given to :meth:`StoreFeed.start`, which
returns the version it now holds. A store rewound to at or below the consumer's version
cannot be loaded as a newer version: the ``rewound`` callback is told, and following
stops (a replica restarts itself: its versions only grow within one process).

Following: a ``LISTEN`` connection wakes the follower when a change commits, and a read
of the log after the last applied version catches up (also every :data:`POLL_SECONDS`,
in case a notification was missed). When the server goes away the follower reconnects
with exponential backoff (:data:`BACKOFF_START` doubling to :data:`BACKOFF_MAX`) and
catches up from the log; meanwhile :meth:`StoreFeed.status` says since when it is
disconnected and how far behind the last known store version it is.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ..errors import LogPruned, Rewound, StoreError, StoreUnavailable
from ..files.loader import PARALLEL_MIN_FILES, chunk_size, paused_gc
from ..records import parse_bytes
from ..records.article import ArticleRecord, LoadIssue
from .pg import CHANNEL, LogBatch, LogEntry, PgStore, _reason, abort_after

log = logging.getLogger("graphsvc.store")

POLL_SECONDS = 0.5
#: How long the follower's check of the head row and the readiness round trip may take
#: before the store counts as unavailable (a server that hangs, not one that is down).
PING_TIMEOUT = 2.0
#: How long a readiness round trip's answer is reused.
PING_CACHE_SECONDS = 1.0
#: How long a failed round trip marks the store as lost in :meth:`StoreFeed.status`.
PING_FRESH = 5.0
#: Versions a start from a snapshot reads from the log, and applies as one delta, at a time.
REPLAY_CHUNK = 1000
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0

Parsed = tuple[ArticleRecord | None, list[LoadIssue]]


def parse(path: str, content: bytes) -> Parsed:
    try:
        return parse_bytes(content, path)
    except (RecursionError, MemoryError):
        return None, [LoadIssue(path, None, "front matter is nested too deeply to read")]


def _parse_chunk(chunk: list[tuple[str, bytes]]) -> list[Parsed]:
    with paused_gc():
        return [parse(p, c) for p, c in chunk]


def parse_all(
    files: Iterable[tuple[str, bytes]],
    count: int,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> dict[str, Parsed]:
    """Parse (path, content) pairs, on every core when there are many (as a folder load)."""
    workers = workers or os.cpu_count() or 1
    out: dict[str, Parsed] = {}
    with paused_gc():
        if workers <= 1 or count < PARALLEL_MIN_FILES:
            for path, content in files:
                out[path] = parse(path, content)
                if progress:
                    progress(1)
            return out
        size = chunk_size(count, workers)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: list = []
            chunk: list[tuple[str, bytes]] = []

            def drain(limit: int) -> None:
                while len(pending) > limit:
                    paths, fut = pending.pop(0)
                    out.update(zip(paths, fut.result(), strict=True))
                    if progress:
                        progress(len(paths))

            for item in files:
                chunk.append(item)
                if len(chunk) >= size:
                    pending.append(([p for p, _ in chunk], pool.submit(_parse_chunk, chunk)))
                    chunk = []
                    drain(workers * 4)  # bounded: the store streams, memory stays flat
            if chunk:
                pending.append(([p for p, _ in chunk], pool.submit(_parse_chunk, chunk)))
            drain(0)
    return out


@dataclass(frozen=True, slots=True)
class StoreDelta:
    """One committed change of the store: the version it made and the files it touched
    (path -> (record, issues), or None for a deleted file), and the version's token."""

    version: int
    files: dict[str, Parsed | None]
    token: str | None = None


@dataclass(frozen=True, slots=True)
class FollowStatus:
    connected: bool
    applied: int  # the last version handed to ``apply``
    store_version: int  # the newest version known to exist in the store
    disconnected_since: float | None  # time.time() when the connection was lost
    error: str | None  # why, redacted

    @property
    def lag(self) -> int:
        return max(0, self.store_version - self.applied)

    def report(self) -> dict:
        """For /readyz: connected, the versions, and since when the store is lost."""
        since = None
        if self.disconnected_since is not None and not self.connected:
            since = datetime.fromtimestamp(self.disconnected_since, UTC).isoformat()
        return {
            "connected": self.connected,
            "storeVersion": self.store_version,
            "appliedVersion": self.applied,
            "lagVersions": self.lag,
            "disconnectedSince": since,
            "error": None if self.connected else self.error,
        }


class StoreFeed:
    """Bulk read and follow one :class:`PgStore` (see the module's docstring)."""

    def __init__(self, store: PgStore):
        self.store = store
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._connected = False
        self._applied = 0
        self._store_version = 0
        self._down_since: float | None = None
        self._error: str | None = None
        #: The identity of the store last read (``graphsvc_head.store_id``).
        self.store_id: str | None = None
        self._token: str | None = None  # of the version applied
        self._idle: Callable[[], None] | None = None
        self._reload: Callable[[], int] | None = None
        self._rewound: Callable[[Rewound], None] | None = None
        self._ping_lock = threading.Lock()
        self._ping_conn: psycopg.Connection | None = None
        self._ping: tuple[float, str | None] | None = None  # (when, why not) of the last

    @property
    def where(self) -> str:
        return self.store.where

    # -- bulk ------------------------------------------------------------------------
    def load(
        self,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> tuple[int, dict[str, Parsed]]:
        """Every file of the store, parsed, at one version: (version, {path: parsed})."""
        with self.store.reading() as snap:
            if on_total:
                on_total(snap.count)
            files = parse_all(snap.files(), snap.count, progress)
            version = snap.version
            self.store_id = snap.store_id
        with self._lock:
            self._applied = self._store_version = version
            self._token = snap.token
            self._connected, self._down_since, self._error = True, None, None
        return version, files

    def replay(self, since: int, token: str | None, apply: Callable[[StoreDelta], None]) -> int:
        """Apply every logged version after ``since`` now, in this thread; how many.

        For a start from a snapshot, before anything is served: the versions of each
        read of the log (up to :data:`REPLAY_CHUNK`) are applied as one delta at the
        newest of them (each file as that version left it), so a replica that was down
        through many versions pays about one version's cost, not one per version (at
        100k files a version costs ~0.4 s to apply). :class:`LogPruned` when the log no
        longer holds them all, :class:`Rewound` when the store's ``since`` is not the
        caller's (the caller then loads whole)."""
        with self._lock:
            self._applied, self._token = since, token
        n = 0
        with self.store.connect(autocommit=True) as conn:
            self.store.check_schema(conn)
            head = self.store.head_row(conn)
            self.store_id = head.store_id
            if head.pruned > since:
                raise LogPruned(since, head.pruned)
            while batches := self._read_log(conn, REPLAY_CHUNK):
                last: dict[str, LogEntry] = {}
                for batch in batches:
                    last.update((e.path, e) for e in batch.entries)
                newest = batches[-1]
                self._deliver(LogBatch(newest.version, list(last.values()), newest.token), apply)
                n += len(batches)
            with self._lock:
                self._store_version = max(self._store_version, head.version, self._applied)
                self._connected, self._down_since, self._error = True, None, None
        return n

    # -- following -------------------------------------------------------------------
    def start(
        self,
        since: int,
        apply: Callable[[StoreDelta], None],
        idle: Callable[[], None] | None = None,
        reload: Callable[[], int] | None = None,
        rewound: Callable[[Rewound], None] | None = None,
        token: str | None = None,
    ) -> None:
        """Follow the log after version ``since`` (whose token is ``token``) in a
        background thread. ``idle()`` is called about every :data:`POLL_SECONDS` (e.g.
        to write a snapshot); ``reload()`` when the log was pruned past the version
        applied, or the store no longer holds it but is ahead of it: it loads the store
        whole and returns the version it holds; ``rewound(error)`` when the store went
        back to at or below the version applied (following then stops)."""
        if self._thread is not None:
            return
        self._idle, self._reload, self._rewound = idle, reload, rewound
        with self._lock:
            self._applied, self._token = since, token
            self._store_version = max(self._store_version, since)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(apply,), name="graphsvc-store-follow", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    @property
    def applied_token(self) -> str | None:
        """The token of the version applied (or loaded) last."""
        with self._lock:
            return self._token

    def poke(self) -> None:
        """Catch up now (a writer that just committed calls this)."""
        self._wake.set()

    def status(self) -> FollowStatus:
        """The follower's state; a readiness round trip that failed in the last
        :data:`PING_FRESH` seconds counts too (the follower may be waiting inside a read)."""
        ping = self._ping
        with self._lock:
            connected, since, error = self._connected, self._down_since, self._error
            applied, store_version = self._applied, self._store_version
        if ping is not None and ping[1] is not None and time.monotonic() - ping[0] < PING_FRESH:
            if connected:
                since = time.time() - (time.monotonic() - ping[0])
            connected, error = False, ping[1]
        return FollowStatus(connected, applied, store_version, since, error)

    def _set_down(self, error: str) -> None:
        with self._lock:
            if self._connected or self._down_since is None:
                self._down_since = time.time()
            self._connected = False
            self._error = error

    def _run(self, apply: Callable[[StoreDelta], None]) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            try:
                with self.store.connect(autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._lock:
                        self._connected, self._down_since, self._error = True, None, None
                    backoff = BACKOFF_START
                    self._follow(conn, apply)
            except _Stop:
                return
            except (StoreUnavailable, psycopg.OperationalError) as e:
                msg = str(e) if isinstance(e, StoreUnavailable) else _reason(e)
                if not self._stop.is_set():
                    if self.status().connected:
                        log.warning("lost the store %s: %s; reconnecting", self.where, msg)
                    self._set_down(msg)
            except StoreError as e:
                self._set_down(str(e))
                log.error("%s", e)
            except Exception as e:  # noqa: BLE001 - keep following whatever happens
                self._set_down(f"{type(e).__name__}")
                log.exception("following the store %s failed", self.where)
            self._stop.wait(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)

    def _follow(self, conn: psycopg.Connection, apply: Callable[[StoreDelta], None]) -> None:
        self.store.check_schema(conn)
        while not self._stop.is_set():
            self._catch_up(conn, apply)
            self._wake.clear()
            # Wait for a notification (or a poke, or the poll interval).
            deadline = time.monotonic() + POLL_SECONDS
            while not self._stop.is_set() and not self._wake.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                got = False
                # stop_after: return at the first notification (without it the generator
                # waits out the whole timeout, ~100 ms added to every change).
                for n in conn.notifies(timeout=min(left, 0.1), stop_after=1):
                    got = True
                    try:
                        v = int(n.payload)
                    except ValueError:
                        continue
                    with self._lock:
                        self._store_version = max(self._store_version, v)
                if got:
                    break
            if self._idle is not None:
                self._idle()

    def _catch_up(self, conn: psycopg.Connection, apply: Callable[[StoreDelta], None]) -> None:
        # A round trip within PING_TIMEOUT, or the store counts as lost (a hung server).
        with abort_after(conn, PING_TIMEOUT):
            row = conn.execute("SELECT version FROM graphsvc_head").fetchone()
        if row is None:  # tables made but not yet filled: a restore under way
            raise StoreError(f"the store {self.where} has no head row (being restored?)")
        (head,) = row
        with self._lock:
            self._store_version = max(self._store_version, head)
        while not self._stop.is_set():
            try:
                batches = self._read_log(conn)
            except (LogPruned, Rewound) as e:
                behind = isinstance(e, LogPruned) or e.head > e.after
                # not behind: the store went back, there is no newer version to load as
                if isinstance(e, Rewound) and not behind:
                    log.error("%s", e)
                    if self._rewound is None:
                        raise
                    self._set_down(str(e))
                    self._rewound(e)
                    raise _Stop from None
                if self._reload is None:
                    raise
                log.warning("%s; reloading the store", e)
                v = self._reload()
                with self._lock:
                    self._applied = v
                    self._store_version = max(self._store_version, v)
                continue
            if not batches:
                return
            for batch in batches:
                self._deliver(batch, apply)

    def _read_log(self, conn: psycopg.Connection, max_versions: int = 50) -> list[LogBatch]:
        with self._lock:
            after, token = self._applied, self._token
        return self.store.read_log(conn, after, token, max_versions)

    # -- readiness -------------------------------------------------------------------
    def check(self) -> str | None:
        """Why the store does not answer now, or None when it does: a ``SELECT 1`` round
        trip within :data:`PING_TIMEOUT` on a connection kept for it, its answer reused
        for :data:`PING_CACHE_SECONDS` (callers meanwhile wait for the one in flight)."""
        with self._ping_lock:
            now = time.monotonic()
            if self._ping is not None and now - self._ping[0] < PING_CACHE_SECONDS:
                return self._ping[1]
            why = self._round_trip()
            self._ping = (time.monotonic(), why)
            return why

    def _round_trip(self) -> str | None:
        kept = self._ping_conn is not None and not (
            self._ping_conn.closed or self._ping_conn.broken
        )
        why = self._ping_once()
        if why is not None and kept and "did not answer" not in why:
            # The kept connection may be one the store dropped when it restarted: that
            # says nothing of the store now, so ask once more on a new connection.
            why = self._ping_once()
        return why

    def _ping_once(self) -> str | None:
        try:
            if self._ping_conn is None or self._ping_conn.closed or self._ping_conn.broken:
                if self._ping_conn is not None:
                    self._ping_conn.close()
                self._ping_conn = None
                self._ping_conn = self.store.connect(autocommit=True, timeout=PING_TIMEOUT)
            with abort_after(self._ping_conn, PING_TIMEOUT) as cut:
                try:
                    self._ping_conn.execute("SELECT 1")
                except psycopg.OperationalError as e:
                    self._ping_conn.close()
                    self._ping_conn = None
                    if cut.fired:
                        return f"the store {self.where} did not answer within {PING_TIMEOUT:g} s"
                    return f"the store {self.where} is unavailable: {_reason(e)}"
        except StoreUnavailable as e:
            return str(e)
        return None

    def close(self) -> None:
        with self._ping_lock:
            if self._ping_conn is not None:
                self._ping_conn.close()
                self._ping_conn = None

    def _deliver(self, batch: LogBatch, apply: Callable[[StoreDelta], None]) -> None:
        files: dict[str, Parsed | None] = {}
        for e in batch.entries:
            files[e.path] = None if e.content is None else parse(e.path, e.content)
        delta = StoreDelta(batch.version, files, batch.token)
        while True:
            try:
                apply(delta)
                break
            except Exception:  # noqa: BLE001 - offer it again: never skip a change
                log.exception("applying store version %d failed; trying again", batch.version)
                if self._stop.wait(1):
                    return
        with self._lock:
            self._applied, self._token = batch.version, batch.token
            self._store_version = max(self._store_version, batch.version)


class _Stop(Exception):
    """Following ends (the store was rewound under it)."""
