"""The PostgreSQL store: article files in tables, an append-only change log, versions.

What is stored is what a corpus folder holds: each file's path and its exact bytes (front
matter, unknown keys, body, even bytes that are not UTF-8). Parsing stays where it is
for folders (:func:`graphsvc.files.parse_bytes`), so a replica validates exactly as a
folder load does, and ``graphsvc export --store`` writes the same files back.

Tables (graphsvc creates and migrates them itself; see :data:`MIGRATIONS`):

``graphsvc_schema(version)``
    the schema version; a store newer than this code is refused (:class:`StoreError`).
``graphsvc_head(version, store_id, pruned, token)``
    one row: the store's version, the number of the last committed change; the store's
    identity (a random UUID made when the tables are, so a replica's snapshot of another
    store, or of this database dropped and imported again, is never taken for this one);
    ``pruned``, the newest version the log no longer holds whole (see :meth:`PgStore.prune`);
    and ``token``, the head version's token (below).
``graphsvc_log(version, seq, path, content, urls, committed_at, token)``
    the change log, append-only: one ``version`` per committed write transaction, one row
    per file it wrote (``content``) or deleted (``content`` NULL). ``urls`` are the
    canonical URLs of the file's article before and after, for ``expectedVersion``.
    ``token`` is a random UUID drawn by the transaction that made the version (NULL for
    versions made before schema 3).

**Restores and rewinds.** ``store_id`` survives ``pg_dump``/``pg_restore`` (it is a
row), and so do version numbers: a store restored from an older backup and written again
hands out numbers a replica has already seen, for other changes. So a reader never trusts
a number alone: it keeps the token of the version it holds, and each read of the log
checks, in the same statement, that the store's version ``after`` still has that token
(:class:`Rewound` if not, or if the head is older). A token names one change and,
because versions form one line, the whole history up to it: a restore that still holds
the version keeps its token (the dump carries it, and nothing is lost), and any version
made after a restore or a point-in-time recovery draws a new one. Epochs derived from the
server instead (system identifier, database or table OIDs) miss ``pg_restore --clean``
into the same database and physical restores, and change on ``pg_upgrade``; a hash of a
version's content misses a rewound store that happens to write the same bytes again.
``graphsvc_files(path, version, seq, sha256, urls)``
    the files as they are now: each names the log row holding its content (so content is
    stored once), its checksum (import changes only what changed) and its article's URLs.

**Versions and the commit-order pitfall.** A sequence number is taken at insert but
becomes visible at commit, so a reader asking for "changes above the last one seen" can
skip a change that took a lower number and committed later. Here a writer takes its
version with ``UPDATE graphsvc_head SET version = version + 1``: the row lock it holds
until commit makes the next writer wait, so versions are handed out and become visible in
the same order, without gaps (a rolled-back writer gives its number back). Once a reader
sees version ``v``, every version below it is committed: reading ``version > last`` in
order never skips and never repeats. Every replica numbers its graph with these versions,
so all report the same ``stats { version }`` for the same change.

The cost: writers are serialised (one write transaction at a time in the whole fleet),
which is what a single source of truth with a total order of changes needs anyway.
Every write also notifies :data:`CHANNEL` (``NOTIFY``, delivered at commit) with its
version, so followers wake at once; they read the log to catch up, never trusting the
notification's payload.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..config import BY_NAME
from ..errors import LogPruned, Rewound, StoreError, StoreRefused, StoreUnavailable
from ..graph.urls import canonical_url
from ..records import parse_bytes
from ..records.article import ArticleRecord

log = logging.getLogger("graphsvc.store")

#: The schema this code writes and reads.
SCHEMA_VERSION = 3
#: The NOTIFY channel each committed change is announced on (payload: the version).
CHANNEL = "graphsvc_log"
#: Where the store's URL and password file come from when not given as options.
#: Any advisory lock key of ours: taken while migrating, so replicas starting together
#: do not create the tables twice.
_MIGRATE_LOCK = 0x67726170_68737663 & 0x7FFFFFFFFFFFFFFF

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE graphsvc_head (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            version bigint NOT NULL DEFAULT 0)""",
        "INSERT INTO graphsvc_head DEFAULT VALUES",
        """CREATE TABLE graphsvc_log (
            version bigint NOT NULL,
            seq integer NOT NULL,
            path text NOT NULL,
            content bytea,
            urls text[] NOT NULL DEFAULT '{}',
            committed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (version, seq))""",
        "CREATE INDEX graphsvc_log_urls ON graphsvc_log USING gin (urls)",
        """CREATE TABLE graphsvc_files (
            path text PRIMARY KEY,
            version bigint NOT NULL,
            seq integer NOT NULL,
            sha256 bytea NOT NULL,
            urls text[] NOT NULL DEFAULT '{}',
            FOREIGN KEY (version, seq) REFERENCES graphsvc_log (version, seq))""",
        "CREATE INDEX graphsvc_files_urls ON graphsvc_files USING gin (urls)",
    ],
    # The store's identity (for replica snapshots) and the pruned part of the log.
    2: [
        """ALTER TABLE graphsvc_head
            ADD COLUMN store_id uuid NOT NULL DEFAULT gen_random_uuid(),
            ADD COLUMN pruned bigint NOT NULL DEFAULT 0""",
    ],
    # Each version's token, to recognise a restored or rewound store (see above). Older
    # versions keep NULL: adding a column without a default rewrites nothing.
    3: [
        "ALTER TABLE graphsvc_head ADD COLUMN token uuid",
        "ALTER TABLE graphsvc_log ADD COLUMN token uuid",
    ],
}

#: Bounds on every replica write (README, "Running a fleet": timeouts). The server ends
#: a statement or a wait for a lock past ``statement``/``lock`` seconds and a session
#: left idle inside a transaction past ``idle_in_transaction`` (a writer that hung holding
#: the head row's lock, which every writer needs); :func:`abort_after` bounds the whole
#: transaction on this side, which is what counts when the server itself hangs.
WRITE_TIMEOUT = 5.0
IDLE_IN_TRANSACTION_TIMEOUT = 10.0
#: libpq: a connection whose sent data stays unacknowledged this long is dead (a server
#: host gone from the network); keepalives find a silent one within ~11 s.
TCP_USER_TIMEOUT = 10.0


def redact(url: str) -> str:
    """The store's address for messages and logs: never the password.

    >>> redact("postgresql://app:s3cret@db.example:5433/news?sslmode=require")
    'postgresql://app@db.example:5433/news'
    """
    try:
        d = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable address)"
    user = f"{d['user']}@" if d.get("user") else ""
    host = d.get("host") or ""
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{host}{port}/{d.get('dbname') or ''}"


def article_urls(rec: ArticleRecord | None) -> list[str]:
    """The canonical URLs naming the article a file describes (none if it does not parse)."""
    if rec is None:
        return []
    return sorted({canonical_url(u) for u in rec.urls.values()})


def content_urls(content: bytes | None, path: str) -> list[str]:
    if content is None:
        return []
    rec, _ = parse_bytes(content, path)
    return article_urls(rec)


def sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


@dataclass(frozen=True, slots=True)
class LogEntry:
    path: str
    content: bytes | None  # None: the file was deleted


@dataclass(frozen=True, slots=True)
class LogBatch:
    """One committed write transaction: its version, the files it wrote or deleted, and
    its token (None for versions made before schema 3)."""

    version: int
    entries: list[LogEntry]
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The store's head row: its version, identity, pruned horizon and the head
    version's token."""

    version: int
    store_id: str
    pruned: int
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Server-side bounds for one connection, in seconds (0: none)."""

    statement: float = 0
    lock: float = 0
    idle_in_transaction: float = 0

    @classmethod
    def for_writes(cls, seconds: float = WRITE_TIMEOUT) -> Timeouts:
        return cls(seconds, seconds, max(seconds, IDLE_IN_TRANSACTION_TIMEOUT))

    def options(self) -> str:
        """libpq's ``options``: ``-c name=ms`` for each bound set."""
        parts = [
            f"-c {name}={round(value * 1000)}"
            for name, value in (
                ("statement_timeout", self.statement),
                ("lock_timeout", self.lock),
                ("idle_in_transaction_session_timeout", self.idle_in_transaction),
            )
            if value > 0
        ]
        return " ".join(parts)


class Deadline:
    """What :func:`abort_after` did: ``fired`` once the connection was cut."""

    def __init__(self) -> None:
        self.fired = False
        self.lock = threading.Lock()
        self.done = False


@contextlib.contextmanager
def abort_after(conn: psycopg.Connection, seconds: float | None) -> Iterator[Deadline]:
    """Cut ``conn`` if the block takes more than ``seconds``: whatever libpq waits for
    (a statement, a lock, the COMMIT's answer) then fails at once with an
    :class:`psycopg.OperationalError`, and the connection is broken.

    A server that is alive ends a slow statement itself (``statement_timeout``); this is
    for one that is not answering at all (stopped, frozen, swapped out): there the kernel
    still acknowledges every packet, so neither keepalives nor ``tcp_user_timeout`` ever
    fire, and a query cancel needs the frozen postmaster. The socket is shut down from a
    timer thread (``shutdown`` wakes a blocked ``poll``; nothing is freed under libpq).
    The server, once it runs again, reads the end of the stream and rolls back a
    transaction whose COMMIT it never received; one whose COMMIT was sent may still
    commit (the caller says so: :attr:`StoreUnavailable.maybe_committed`)."""
    state = Deadline()
    if not seconds or seconds <= 0:
        yield state
        return

    def fire() -> None:
        with state.lock:
            if state.done:
                return
            state.fired = True
            try:
                fd = conn.pgconn.socket
                with socket.socket(fileno=os.dup(fd)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
            except (OSError, psycopg.Error):
                pass  # already closed: nothing waits on it

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        with state.lock:
            state.done = True
        timer.cancel()


@dataclass(frozen=True, slots=True)
class Pruned:
    """What :meth:`PgStore.prune` did."""

    horizon: int  # the log holds every version after this one
    deleted: int  # log rows deleted
    kept_current: int  # rows at or below the horizon kept: they hold files' current content
    head: int


@dataclass
class WriteOp:
    path: str
    content: bytes | None  # None: delete
    urls: list[str] = field(default_factory=list)  # the new content's article URLs


class PgStore:
    """A connection factory and the store's queries. Thread-safe: each call opens or
    uses its own connection (:class:`Writer` keeps one for writes)."""

    def __init__(
        self,
        url: str,
        password_file: str | os.PathLike | None = None,
        connect_timeout: float = 5,
        application_name: str = "graphsvc",
    ):
        self.url = url
        self.where = redact(url)
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self._password: str | None = None
        if password_file:
            try:
                with open(password_file, encoding="utf-8") as fh:
                    self._password = fh.readline().rstrip("\r\n")
            except OSError as e:
                raise StoreError(f"cannot read the store's password file: {e.strerror}") from None

    @classmethod
    def open(cls, url: str | None, password_file: str | None = None, **kw) -> PgStore:
        """The store at ``url`` (the ``store`` setting); the password from
        ``password_file``, or libpq's own sources (``PGPASSWORD``, ``PGPASSFILE``,
        ``~/.pgpass``)."""
        if not url:
            raise StoreError(f"no store given: pass --store URL or set ${BY_NAME['store'].env}")
        return cls(url, password_file or None, **kw)

    # -- connections -------------------------------------------------------------------
    def connect(
        self,
        autocommit: bool = False,
        timeout: float | None = None,
        timeouts: Timeouts | None = None,
    ) -> psycopg.Connection:
        """A new connection; :class:`StoreUnavailable` (redacted) when it cannot be made.
        ``timeout``: for connecting (libpq's ``connect_timeout``, whole seconds);
        ``timeouts``: the server's bounds for this session (see :class:`Timeouts`)."""
        kw: dict[str, Any] = dict(
            autocommit=autocommit,
            connect_timeout=max(1, round(timeout or self.connect_timeout)),
            application_name=self.application_name,
            # Notice a server that went away while we wait on it (LISTEN, long reads).
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=round(TCP_USER_TIMEOUT * 1000),
        )
        if timeouts is not None and (options := timeouts.options()):
            kw["options"] = options
        if self._password is not None:
            kw["password"] = self._password
        try:
            return psycopg.connect(self.url, **kw)
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"the store {self.where} is unavailable: {_reason(e)}") from None
        except psycopg.ProgrammingError:  # libpq's message may quote the address: not shown
            raise StoreError("the store's address cannot be read as a PostgreSQL URL") from None

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> int:
        """Create or upgrade the tables; returns the schema version. Refuses a store
        whose schema is newer than this code (:class:`StoreError`)."""
        try:
            return self._migrate()
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"the store {self.where} is unavailable: {_reason(e)}") from None
        except psycopg.Error as e:
            raise StoreError(
                f"cannot set up graphsvc's tables in {self.where}: {_reason(e)} (the first "
                "start needs a role that may create tables; see README, Running a fleet)"
            ) from None

    def _migrate(self) -> int:
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            have = _schema_version(conn)
            if have > SCHEMA_VERSION:
                raise StoreError(_too_new(have, self.where))
            if have == 0:
                conn.execute("CREATE TABLE graphsvc_schema (version integer NOT NULL)")
                conn.execute("INSERT INTO graphsvc_schema VALUES (0)")
            for v in range(have + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[v]:
                    conn.execute(stmt)
                conn.execute("UPDATE graphsvc_schema SET version = %s", (v,))
                log.info("store %s: schema migrated to version %d", self.where, v)
        return SCHEMA_VERSION

    def check_schema(self, conn: psycopg.Connection) -> None:
        have = _schema_version(conn)
        if have > SCHEMA_VERSION:
            raise StoreError(_too_new(have, self.where))
        if have < SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.where} has schema version {have}, this graphsvc needs "
                f"{SCHEMA_VERSION}: run `graphsvc import` or `graphsvc serve --store` with a "
                "role that may create tables once"
            )

    # -- reading -----------------------------------------------------------------------
    def head(self) -> int:
        with self.connect(autocommit=True) as conn:
            return _head(conn)

    def head_row(self, conn: psycopg.Connection | None = None) -> Head:
        """Version, identity and pruned horizon, read in one statement."""
        if conn is None:
            with self.connect(autocommit=True) as own:
                self.check_schema(own)
                return self.head_row(own)
        v, sid, pruned, token = _one(
            conn.execute("SELECT version, store_id::text, pruned, token::text FROM graphsvc_head")
        )
        return Head(v, sid, pruned, token)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """A consistent view of the whole store (one REPEATABLE READ transaction)."""
        with self.connect() as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                self.check_schema(conn)
                head = self.head_row(conn)
                (count,) = _one(conn.execute("SELECT count(*) FROM graphsvc_files"))
                yield Snapshot(conn, head.version, count, head.store_id, head.token)

    def read_log(
        self, conn: psycopg.Connection, after: int, token: str | None, max_versions: int = 50
    ) -> list[LogBatch]:
        """The committed changes after version ``after``, oldest first (at most
        ``max_versions`` of them; call again until it returns nothing). ``token`` is the
        token of version ``after`` as the caller read it.

        One statement, so one view of the store, reads the head row, the token of
        version ``after`` and the rows after it: :class:`Rewound` when the store's
        version ``after`` is not the caller's (a restored or rewound store, see the
        module's docstring), :class:`LogPruned` when the log no longer holds every
        version after ``after``, or no row of ``after`` to check it by (a prune that
        committed before the statement is seen whole, rows and horizon)."""
        rows = conn.execute(
            "WITH h AS (SELECT version, pruned, token FROM graphsvc_head),"
            " at AS (SELECT token FROM graphsvc_log WHERE version = %(after)s LIMIT 1),"
            " l AS (SELECT version, seq, path, content, token FROM graphsvc_log"
            "       WHERE version > %(after)s AND version <= %(upto)s)"
            " SELECT h.version, h.pruned, h.token::text, (SELECT count(*) FROM at),"
            "  (SELECT token::text FROM at), l.version, l.path, l.content, l.token::text"
            " FROM h LEFT JOIN l ON true ORDER BY l.version, l.seq",
            {"after": after, "upto": after + max_versions},
        ).fetchall()
        if not rows:  # tables made but not yet filled: a restore under way
            raise StoreError(f"the store {self.where} has no head row (being restored?)")
        head, pruned, head_token, have_at, at_token = rows[0][:5]
        _check_history(after, token, head, pruned, head_token, have_at, at_token)
        # Above the horizon versions have no gaps (each holds a row): no rows in the window
        # means none after ``after``. Rows deleted by hand instead of by :meth:`prune` are
        # never skipped over: the follower waits, and /readyz shows the lag.
        batches: list[LogBatch] = []
        for *_, version, path, content, vtoken in rows:
            if version is None:
                break  # the head row alone: nothing after ``after``
            if not batches or batches[-1].version != version:
                batches.append(LogBatch(version, [], vtoken))
            batches[-1].entries.append(LogEntry(path, None if content is None else bytes(content)))
        return batches

    # -- pruning -----------------------------------------------------------------------
    def prune(self, keep: int, min_age: float = 0.0) -> Pruned:
        """Delete the log's history up to a horizon: every version but the newest
        ``keep``, and none committed less than ``min_age`` seconds ago.

        A log row that still holds a file's current content is kept (the files table
        points at it); the others at or below the horizon go. ``pruned`` in the head
        row becomes the horizon in the same transaction, so a reader that needs a
        version at or below it knows to load the store whole (:class:`LogPruned`).
        Writers are held up only for the final update of the head row."""
        if keep < 0:
            raise ValueError("keep must be 0 or more")
        try:
            with self.connect() as conn, conn.transaction():
                self.check_schema(conn)
                head = self.head_row(conn)
                horizon = head.version - keep
                if min_age > 0:
                    (young,) = _one(
                        conn.execute(
                            "SELECT min(version) FROM graphsvc_log"
                            " WHERE committed_at > now() - make_interval(secs => %s)",
                            (min_age,),
                        )
                    )
                    if young is not None:
                        horizon = min(horizon, young - 1)
                if horizon <= head.pruned:
                    return Pruned(head.pruned, 0, 0, head.version)
                deleted = conn.execute(
                    "DELETE FROM graphsvc_log l WHERE l.version <= %s AND NOT EXISTS"
                    " (SELECT 1 FROM graphsvc_files f"
                    "  WHERE f.version = l.version AND f.seq = l.seq)",
                    (horizon,),
                ).rowcount
                (kept,) = _one(
                    conn.execute(
                        "SELECT count(*) FROM graphsvc_log WHERE version <= %s", (horizon,)
                    )
                )
                conn.execute("UPDATE graphsvc_head SET pruned = greatest(pruned, %s)", (horizon,))
                log.info("store %s: log pruned up to version %d", self.where, horizon)
                return Pruned(horizon, deleted, kept, head.version)
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"the store {self.where} is unavailable: {_reason(e)}") from None
        except psycopg.Error as e:
            raise StoreRefused(f"the store refused to prune its log: {_reason(e)}") from None

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, conn: psycopg.Connection | None = None) -> Iterator[Transaction]:
        """One write transaction: all of it commits, as one version, or none of it.

        On entry the transaction holds the next version (and with it the right to write:
        other writers wait until it ends). Leaving the block commits when something was
        written, else rolls back (no version is used). ``txn.committed`` is then the new
        version, or None.
        """
        own = conn is None
        if conn is None:
            conn = self.connect()
        txn: Transaction | None = None
        try:
            try:
                with conn.transaction():
                    self.check_schema(conn)
                    txn = Transaction(conn)
                    yield txn
                    if not txn.ops:
                        raise _Nothing
                    txn._flush()
                    txn.committing = True
            except _Nothing:
                return
            except psycopg.OperationalError as e:
                version = txn.version if txn is not None and txn.committing else None
                err = StoreUnavailable(
                    f"the store {self.where} is unavailable: {_reason(e)}; "
                    + (outcome(version) if version is not None else "nothing was changed")
                )
                err.maybe_committed = version is not None
                err.version = version
                raise err from None
            except psycopg.Error as e:  # refused by the server: privileges, constraints
                raise StoreRefused(
                    f"the store {self.where} refused the write: {_reason(e)}; nothing was changed"
                ) from None
            assert txn is not None  # made at the start of the transaction that committed
            txn.committed = txn.version
        finally:
            if own:
                conn.close()


class _Nothing(Exception):
    pass


def outcome(version: int) -> str:
    """What a client is told when the COMMIT of ``version`` got no answer."""
    return (
        f"the write may or may not have been applied (the commit got no answer): it was "
        f"applied if and only if the store's version {version} holds it; read the article "
        f"back once the store answers (stats {{ version }} >= {version})"
    )


def _check_history(
    after: int,
    token: str | None,
    head: int,
    pruned: int,
    head_token: str | None,
    have_at: int,
    at_token: str | None,
) -> None:
    """Raise unless the store's history up to ``after`` is the reader's (see read_log)."""
    if head < after:
        raise Rewound(after, head)
    if after == 0:
        return  # version 0 is the empty store, in every history
    if head == after:
        if head_token != token:
            raise Rewound(after, head)
        return
    if pruned > after or not have_at:
        if pruned >= after:
            raise LogPruned(after, pruned)
        raise Rewound(after, head)  # not pruned, yet gone: not the history read
    if at_token != token:
        raise Rewound(after, head)


class Snapshot:
    """The whole store at one version (inside :meth:`PgStore.reading`)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        version: int,
        count: int,
        store_id: str = "",
        token: str | None = None,
    ):
        self.conn, self.version, self.count, self.store_id = conn, version, count, store_id
        self.token = token  # the token of ``version``

    def files(self, progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, bytes]]:
        """Every file's (path, content), in path order, streamed from a server cursor."""
        with self.conn.cursor(name="graphsvc_snapshot") as cur:
            cur.itersize = 500
            cur.execute(
                "SELECT f.path, l.content FROM graphsvc_files f"
                " JOIN graphsvc_log l USING (version, seq) ORDER BY f.path"
            )
            n = 0
            for path, content in cur:
                yield path, bytes(content)
                n += 1
                if progress and n % 500 == 0:
                    progress(500)
            if progress and n % 500:
                progress(n % 500)


class Transaction:
    """What a write transaction may ask and do (see :meth:`PgStore.writing`)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.ops: dict[str, WriteOp] = {}
        self.committed: int | None = None
        self.committing = False
        # The next version, its token, and the lock that serialises writers (held until
        # commit; a rollback gives back the number and the old token).
        self.version, self.token = _one(
            conn.execute(
                "UPDATE graphsvc_head SET version = version + 1, token = gen_random_uuid()"
                " RETURNING version, token"
            )
        )

    def files_for(self, urls: Iterable[str]) -> dict[str, int]:
        """Paths of the files describing an article with any of these canonical URLs,
        and the version that last wrote each."""
        rows = self.conn.execute(
            "SELECT path, version FROM graphsvc_files WHERE urls && %s::text[] ORDER BY path",
            (list(urls),),
        ).fetchall()
        return dict(rows)

    def exists(self, path: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM graphsvc_files WHERE path = %s", (path,)).fetchone()
            is not None
        )

    def content(self, path: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT l.content FROM graphsvc_files f JOIN graphsvc_log l USING (version, seq)"
            " WHERE f.path = %s",
            (path,),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def checksums(self) -> dict[str, bytes]:
        """Every file's path and sha256 (for import)."""
        return {
            p: bytes(h) for p, h in self.conn.execute("SELECT path, sha256 FROM graphsvc_files")
        }

    def checksums_of(self, paths: list[str], prefixes: list[str]) -> dict[str, bytes]:
        """The sha256 of these paths and of every path below these prefixes."""
        rows = self.conn.execute(
            "SELECT path, sha256 FROM graphsvc_files WHERE path = ANY(%s)"
            " OR EXISTS (SELECT 1 FROM unnest(%s::text[]) p WHERE starts_with(path, p))",
            (paths, prefixes),
        )
        return {p: bytes(h) for p, h in rows}

    def changed_after(self, urls: Iterable[str], version: int) -> int | None:
        """The newest version after ``version`` that wrote or deleted a file of an
        article with any of these URLs; None when there is none."""
        (v,) = _one(
            self.conn.execute(
                "SELECT max(version) FROM graphsvc_log WHERE version > %s AND urls && %s::text[]",
                (version, list(urls)),
            )
        )
        return v

    def pruned(self) -> int:
        """The log's pruned horizon: versions at or below it are no longer all logged."""
        (p,) = _one(self.conn.execute("SELECT pruned FROM graphsvc_head"))
        return p

    def put(self, path: str, content: bytes, urls: list[str] | None = None) -> None:
        if urls is None:
            urls = content_urls(content, path)
        self.ops[path] = WriteOp(path, content, urls)

    def delete(self, path: str) -> None:
        self.ops[path] = WriteOp(path, None, [])

    def _flush(self) -> None:
        """Write the log rows and the files, and announce the version (at commit)."""
        conn, v = self.conn, self.version
        old_urls: dict[str, list[str]] = dict(
            conn.execute(
                "SELECT path, urls FROM graphsvc_files WHERE path = ANY(%s)", (list(self.ops),)
            ).fetchall()
        )
        ops = [self.ops[p] for p in sorted(self.ops)]
        with conn.cursor() as cur:
            with cur.copy(
                "COPY graphsvc_log (version, seq, path, content, urls, token) FROM STDIN"
            ) as cp:
                for seq, op in enumerate(ops):
                    urls = sorted(set(op.urls) | set(old_urls.get(op.path) or ()))
                    cp.write_row((v, seq, op.path, op.content, urls, self.token))
            deletes = [op.path for op in ops if op.content is None]
            if deletes:
                cur.execute("DELETE FROM graphsvc_files WHERE path = ANY(%s)", (deletes,))
            puts = [
                (op.path, v, seq, sha256(op.content), op.urls)
                for seq, op in enumerate(ops)
                if op.content is not None
            ]
            if puts:
                cur.executemany(
                    "INSERT INTO graphsvc_files (path, version, seq, sha256, urls)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET"
                    " version = EXCLUDED.version, seq = EXCLUDED.seq,"
                    " sha256 = EXCLUDED.sha256, urls = EXCLUDED.urls",
                    puts,
                )
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(v)))


def _schema_version(conn: psycopg.Connection) -> int:
    (exists,) = _one(conn.execute("SELECT to_regclass('graphsvc_schema') IS NOT NULL"))
    if not exists:
        return 0
    row = _one(conn.execute("SELECT max(version) FROM graphsvc_schema"))
    return row[0] or 0


def _one(cur: psycopg.Cursor) -> tuple[Any, ...]:
    """The row of a statement that always returns one (an aggregate, the one-row head
    table, an UPDATE ... RETURNING of it)."""
    row = cur.fetchone()
    if row is None:  # unpacking the missing row raised this TypeError before
        raise TypeError("cannot unpack non-iterable NoneType object")
    return row


def _head(conn: psycopg.Connection) -> int:
    (v,) = _one(conn.execute("SELECT version FROM graphsvc_head"))
    return v


def _too_new(have: int, where: str) -> str:
    return (
        f"the store {where} has schema version {have}, newer than this graphsvc understands "
        f"({SCHEMA_VERSION}): upgrade graphsvc before using this store"
    )


def _reason(e: Exception) -> str:
    """libpq's message, first line only (it names host and port, never the password)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
