"""The delta state's indexes, kept in an SQLite file instead of the heap.

:class:`~graphsvc.graph.delta.GraphState` needs, to apply a change in time proportional
to what it touches, every record the graph was built from and a few indexes over them
(which paths name a URL, which URLs are one article, how each provider is spelled and by
whom). Kept as Python objects these cost more than the graph itself (about 10 KB per
file on the generated corpus: the related items' text is held nowhere else), so a live
server used twice the memory of a static one. Here they are rows of an SQLite database
in a file of its own (a temporary file by default; the corpus object puts it beside its
snapshot), read a few rows at a time by each delta. SQLite is the embedded store made
for exactly this: indexed lookups in microseconds, its own small page cache, nothing to
run. The file is scratch space, rebuilt from the snapshot or the files at each start:
durability comes from the snapshot, which names a copy of it in a file of its own
(:meth:`StateDB.copy_to`; small states may also travel inside a pickle, :meth:`StateDB.dump`).

Only the writer (one thread at a time, under the corpus lock) uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import pickle
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterator
from typing import BinaryIO, overload

_SCHEMA = """
CREATE TABLE rec (path BLOB PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE ref (url BLOB, path BLOB, PRIMARY KEY (url, path)) WITHOUT ROWID;
CREATE TABLE curl (url BLOB PRIMARY KEY, cid INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX curl_cid ON curl (cid);
CREATE TABLE comp (cid INTEGER PRIMARY KEY, key BLOB, winner BLOB, docs BLOB NOT NULL);
CREATE TABLE pocc (pk BLOB, name BLOB, path BLOB, n INTEGER, pos INTEGER,
                   PRIMARY KEY (pk, name, path)) WITHOUT ROWID;
CREATE TABLE pimg (pk BLOB, path BLOB, images BLOB, PRIMARY KEY (pk, path)) WITHOUT ROWID;
CREATE TABLE tspell (tk BLOB, path BLOB, spelling BLOB, PRIMARY KEY (tk, path)) WITHOUT ROWID;
"""


CACHE_KIB = 8 * 1024  # SQLite's page cache while serving
BULK_CACHE_KIB = 512 * 1024  # ... and while a cold build writes everything at once


PREFIX, SUFFIX = ".graphsvc-state-", ".sqlite"


def _remove(path: str, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
    with contextlib.suppress(OSError):
        os.close(fd)


def sweep(folder: str | os.PathLike[str]) -> int:
    """Remove the state files in ``folder`` that no process holds, whatever their age
    (a killed process, or one whose exit skipped its clean-up, left them); how many.

    A live one is locked (``flock``) by its owner for as long as it is open. One just
    made may not be locked yet: its owner checks, once it holds the lock, that its
    name still leads to the file it locked, and makes another when this swept it."""
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for entry in it:
            if not (entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX)):
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same(fd, entry.path):  # not one made again under this name meanwhile
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue  # in use (or gone)
            finally:
                os.close(fd)
    return removed


def _same(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _create(folder: str | os.PathLike | None) -> tuple[int, str]:
    """A new state file in ``folder``, locked: (fd, path)."""
    while True:
        fd, path = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # "in use" for sweep(); SQLite's own locks differ
            if _same(fd, path):
                return fd, path
        except BaseException:
            _remove(path, fd)
            raise
        os.close(fd)  # another start's sweep() removed it before the lock: again


def _e(s: str | None) -> bytes | None:
    """Text as stored: UTF-8 bytes, lone surrogates (undecodable file names) included.
    Bytes compare like the strings they encode, so ORDER BY gives Python's order."""
    return None if s is None else s.encode("utf-8", "surrogatepass")


@overload
def _d(b: bytes) -> str: ...
@overload
def _d(b: None) -> None: ...
@overload
def _d(b: bytes | None) -> str | None: ...
def _d(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "surrogatepass")


def _pack(obj) -> bytes:
    # Records and images pickled, not compressed: zlib's fastest level cost as much as
    # pickling and only halved the size (the file is on disk); a marshal tuple codec was
    # only 20% faster both ways (building the dataclasses dominates), so not kept.
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


_unpack = pickle.loads


class StateDB:
    """One SQLite file of delta state; removed when this object goes (or :meth:`close`).

    ``folder`` is where the file is made (default: the temporary folder); ``fill``, if
    given, writes the database to start from into the new file (a :meth:`dump`, or a
    copy made by :meth:`copy_to`); whatever it raises leaves nothing behind. Writes are
    queued per table and sent with ``executemany`` when that table is next read or the
    delta ends: a cold build of 100k files is a few bulk inserts, not a million round
    trips.
    """

    def __init__(
        self,
        folder: str | os.PathLike | None = None,
        fill: Callable[[BinaryIO], object] | None = None,
    ):
        if folder is not None:
            sweep(folder)
        fd, self.path = _create(folder)
        self._finalizer = weakref.finalize(self, _remove, self.path, fd)
        db = None
        try:
            if fill is not None:
                with open(self.path, "wb") as fh:
                    fill(fh)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # Scratch space: no journal on disk, no fsync; a crash loses the file, which
            # a start rebuilds anyway. A small page cache: the point is to stay off the heap.
            db.execute("PRAGMA journal_mode=MEMORY")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            db.execute("PRAGMA temp_store=FILE")
            if fill is None:
                db.executescript(_SCHEMA)
        except BaseException:  # a full disk, say: nothing is left behind, nor held open
            if db is not None:
                db.close()
            self._finalizer()
            raise
        self.db = db
        self.memo: dict[str, object] | None = None  # decoded records during one delta
        self._refs: dict[str, set[str]] = {}  # url -> paths, as read during one delta
        self.fresh = False  # the database was empty when this delta began
        self._queue: dict[str, list[tuple[str, tuple]]] = {}  # table -> (sql, params)
        row = db.execute("SELECT max(cid) FROM comp").fetchone()
        self.next_cid = (row[0] or 0) + 1

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        self._finalizer()

    def dump(self) -> bytes:
        """The whole database as bytes (for the snapshot). :class:`pickle.PicklingError`
        when SQLite cannot serialize it (it refuses past 2 GB: ~270k files): the
        snapshot is then not written, and the caller says so and serves on."""
        self._flush()
        try:
            return self.db.serialize()
        except (sqlite3.Error, MemoryError, OverflowError) as e:
            size = os.path.getsize(self.path)
            raise pickle.PicklingError(
                f"the delta state ({size / 2**30:.1f} GiB) does not fit in a snapshot: {e}"
            ) from None

    def copy_to(self, path: str | os.PathLike) -> None:
        """Copy the database as it is now to a new file ``path`` (for a snapshot: no size
        limit and nothing on the heap, unlike :meth:`dump`). A copy of the file itself is
        a consistent database here without SQLite's backup API: this connection is the
        file's only one, the rollback journal is in memory, and no transaction is open,
        so the file holds exactly what was committed. The kernel copies it (sendfile)."""
        self._flush()
        if self.db.in_transaction:
            raise RuntimeError("copy_to inside a delta")
        with open(path, "xb"):
            pass  # a new name, never an old file overwritten
        shutil.copyfile(self.path, path)

    def move_to(self, path: str | os.PathLike) -> None:
        """Close the database and rename its file to ``path`` (same folder): the cheap
        :meth:`copy_to` of a state that is not used again (a loading child's)."""
        self._flush()
        if self.db.in_transaction:
            raise RuntimeError("move_to inside a delta")
        self.db.close()
        os.replace(self.path, path)
        self._finalizer()  # unlinks nothing now; releases the lock

    @contextlib.contextmanager
    def delta(self) -> Iterator[None]:
        """One delta: one transaction, and decoded records remembered until it ends."""
        self.memo = {}
        self._refs = {}
        self.db.execute("BEGIN")
        # Empty at the start (a cold build): nothing to look up, every miss is a miss.
        self.fresh = self.db.execute("SELECT 1 FROM rec LIMIT 1").fetchone() is None
        if self.fresh:  # a bulk load: B-tree pages stay in memory until it is written
            self.db.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        try:
            yield
            self._flush()
        except BaseException:
            self._queue.clear()
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            if self.fresh:
                self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                self.db.execute("PRAGMA shrink_memory")
            self.memo = None
            self._refs = {}
            self.fresh = False

    def _w(self, table: str, sql: str, params: tuple) -> None:
        self._queue.setdefault(table, []).append((sql, params))

    def _flush(self, *tables: str) -> None:
        for table in tables or list(self._queue):
            q = self._queue.pop(table, None)
            if q:
                for sql, group in itertools.groupby(q, key=lambda t: t[0]):
                    self.db.executemany(sql, [t[1] for t in group])

    def _q(self, sql: str, params: tuple, *tables: str) -> sqlite3.Cursor:
        self._flush(*tables)
        return self.db.execute(sql, params)

    # -- records by path -------------------------------------------------------------------
    def record(self, path: str):
        memo = self.memo
        if memo is not None and path in memo:
            return memo[path]
        if self.fresh:
            return None
        row = self._q("SELECT data FROM rec WHERE path=?", (_e(path),), "rec").fetchone()
        rec = _unpack(row[0]) if row else None
        if memo is not None:
            memo[path] = rec
        return rec

    def put_record(self, path: str, rec) -> None:
        self._w("rec", "INSERT OR REPLACE INTO rec VALUES (?, ?)", (_e(path), _pack(rec)))
        if self.memo is not None:
            self.memo[path] = rec

    def del_record(self, path: str) -> None:
        self._w("rec", "DELETE FROM rec WHERE path=?", (_e(path),))
        if self.memo is not None:
            self.memo[path] = None

    def paths(self) -> list[str]:
        return [_d(r[0]) for r in self._q("SELECT path FROM rec ORDER BY path", (), "rec")]

    def count_records(self) -> int:
        return self._q("SELECT count(*) FROM rec", (), "rec").fetchone()[0]

    # -- which paths name a URL --------------------------------------------------------------
    def add_ref(self, url: str, path: str) -> None:
        s = self.refs(url)
        if path not in s:
            s.add(path)
            self._w("ref", "INSERT INTO ref VALUES (?, ?)", (_e(url), _e(path)))

    def del_ref(self, url: str, path: str) -> None:
        s = self.refs(url)
        if path in s:
            s.discard(path)
            self._w("ref", "DELETE FROM ref WHERE url=? AND path=?", (_e(url), _e(path)))

    def refs(self, url: str) -> set[str]:
        """The paths whose records name ``url`` (do not change the set returned)."""
        s = self._refs.get(url)
        if s is None:
            if self.fresh:
                s = set()
            else:  # every write to this URL's rows went through here: none is queued
                rows = self.db.execute("SELECT path FROM ref WHERE url=?", (_e(url),))
                s = {_d(r[0]) for r in rows}
            self._refs[url] = s
        return s

    def has_ref(self, url: str) -> bool:
        return bool(self.refs(url))

    # -- articles: URL groups ------------------------------------------------------------------
    def comp_of(self, url: str) -> tuple[int, str | None, str | None, set[str], set[str]] | None:
        """(cid, key, winner, docs, urls) of the group holding ``url``, or None."""
        if self.fresh:
            return None
        row = self._q(
            "SELECT c.cid, c.key, c.winner, c.docs FROM curl u JOIN comp c ON c.cid = u.cid "
            "WHERE u.url=?",
            (_e(url),),
            "curl",
            "comp",
        ).fetchone()
        if row is None:
            return None
        cid, key, winner, docs = row
        urls = {_d(r[0]) for r in self.db.execute("SELECT url FROM curl WHERE cid=?", (cid,))}
        return cid, _d(key), _d(winner), set(filter(None, _d(docs).split("\0"))), urls

    def new_cid(self) -> int:
        cid = self.next_cid
        self.next_cid += 1
        return cid

    def set_url(self, url: str, cid: int) -> None:
        self._w("curl", "INSERT OR REPLACE INTO curl VALUES (?, ?)", (_e(url), cid))

    def del_url(self, url: str) -> None:
        self._w("curl", "DELETE FROM curl WHERE url=?", (_e(url),))

    def put_comp(self, cid: int, key: str | None, winner: str | None, docs: set[str]) -> None:
        self._w(
            "comp",
            "INSERT OR REPLACE INTO comp VALUES (?, ?, ?, ?)",
            (cid, _e(key), _e(winner), "\0".join(sorted(docs)).encode("utf-8", "surrogatepass")),
        )

    def del_comp(self, cid: int) -> None:
        self._w("comp", "DELETE FROM comp WHERE cid=?", (cid,))

    # -- providers' names and images, topics' spellings ------------------------------------------
    def add_name(self, pk: str, name: str, path: str, pos: int) -> None:
        self._w(
            "pocc",
            "INSERT INTO pocc VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT (pk, name, path) DO UPDATE SET n = n + 1",
            (_e(pk), _e(name), _e(path), pos),
        )

    def drop_name(self, pk: str, name: str, path: str) -> None:
        key = (_e(pk), _e(name), _e(path))
        self._w("pocc", "UPDATE pocc SET n = n - 1 WHERE pk=? AND name=? AND path=?", key)
        self._w("pocc", "DELETE FROM pocc WHERE pk=? AND name=? AND path=? AND n <= 0", key)

    def first_name(self, pk: str, names: list[str]) -> str:
        """Of ``names``, the one whose first occurrence comes first in (path, position)."""
        marks = ",".join("?" * len(names))
        row = self._q(
            f"SELECT name FROM pocc WHERE pk=? AND name IN ({marks}) ORDER BY path, pos LIMIT 1",
            (_e(pk), *map(_e, names)),
            "pocc",
        ).fetchone()
        return _d(row[0])

    def add_images(self, pk: str, path: str, images: list) -> None:
        self._w(
            "pimg", "INSERT OR IGNORE INTO pimg VALUES (?, ?, ?)", (_e(pk), _e(path), _pack(images))
        )

    def del_images(self, pk: str, path: str) -> None:
        self._w("pimg", "DELETE FROM pimg WHERE pk=? AND path=?", (_e(pk), _e(path)))

    def images(self, pk: str) -> list:
        sql = "SELECT images FROM pimg WHERE pk=? ORDER BY path LIMIT 1"
        row = self._q(sql, (_e(pk),), "pimg").fetchone()
        return _unpack(row[0]) if row else []

    def add_spelling(self, tk: str, path: str, spelling: str) -> None:
        self._w(
            "tspell",
            "INSERT OR IGNORE INTO tspell VALUES (?, ?, ?)",
            (_e(tk), _e(path), _e(spelling)),
        )

    def del_spelling(self, tk: str, path: str | None = None) -> None:
        if path is None:
            self._w("tspell", "DELETE FROM tspell WHERE tk=?", (_e(tk),))
        else:
            self._w("tspell", "DELETE FROM tspell WHERE tk=? AND path=?", (_e(tk), _e(path)))

    def spelling(self, tk: str) -> str | None:
        sql = "SELECT spelling FROM tspell WHERE tk=? ORDER BY path LIMIT 1"
        row = self._q(sql, (_e(tk),), "tspell").fetchone()
        return _d(row[0]) if row else None
