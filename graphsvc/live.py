"""Live data: a corpus folder that changes while it is served.

:class:`LiveCorpus` is the one object that owns a corpus folder and its live graph
(held in a :class:`~graphsvc.graph.store.GraphStore`): it loads it (from a snapshot
when valid), keeps the snapshot current, follows the folder, writes articles and
applies every change as a delta (:mod:`graphsvc.graph.delta`): only the files a change
touches are re-read, the next version is made copy-on-write from the current one and
swapped in whole, so a reader holding a version never sees half an update. Listeners
hear each new version with the article URLs it added, changed and removed.

Rules:

* A file that stops parsing keeps serving its last good version; the error (and a
  warning saying the old version is served) is in the load report until it is fixed.
* Writes are atomic (:func:`~graphsvc.ingest.write.atomic_write`) and serialised by
  one lock per corpus. An upsert of an article that has files rewrites those files
  (every file that describes it, so the upsert is what the graph shows); a new
  article gets a new file named by :func:`new_file_name`. A delete removes only the
  article's own files. No other file is ever written.
* A batch of writes is all or nothing: when one write fails the ones before it are
  undone, and the graph is not touched; a crash in the middle is undone by the next
  listing of the folder (:mod:`graphsvc.ingest.journal`).
* Every path goes through :mod:`graphsvc.ingest.fs`: nothing outside the folder's real
  path is read, written or removed, symlinks are never followed, only regular files
  are read. A read that failed (EMFILE, EIO, ...) is tried again (:meth:`retry`).

Nothing here knows about GraphQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pickle
import re
import stat
import threading
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from . import snapshot
from .graph import LinkGraph, build_graph
from .graph.adjacency import node_attrs, successors
from .graph.delta import GraphState
from .graph.errors import GraphError, UnknownURL
from .graph.store import GraphStore
from .graph.urls import canonical_url
from .ingest import Corpus, fs, journal, load_corpus, parse_bytes, read_file
from .ingest.loader import READ_FAILED, list_folder, paused_gc
from .ingest.records import ArticleRecord, LoadIssue
from .ingest.write import TMP_SUFFIX, atomic_delete, atomic_write, render

log = logging.getLogger("graphsvc.live")

#: How the watcher groups changes: a burst ends after STEP_MS of quiet, or DEBOUNCE_MS.
DEBOUNCE_MS = 500
STEP_MS = 100
#: Most articles one upsertArticles call may write.
MAX_BATCH = 1000
#: Temporary files of an atomic write older than this were left by a crash: removed on load.
STALE_TMP_SECONDS = 3600
#: How often (seconds) a changed corpus's snapshot is written again while it is followed.
SNAPSHOT_INTERVAL = 300
#: From this many files on, a cold load with snapshots runs in a child process that
#: writes the snapshot, and this process reads it (a tighter heap).
ISOLATE_MIN_FILES = 20_000
#: A file that could not be read (EMFILE, EIO, ...) is read again after this long.
RETRY_SECONDS = 1.0


def log_to_stderr(level: str = "info") -> None:
    """Print what the live corpus applies (one line per version) on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("graphsvc: %(message)s"))
    log.addHandler(handler)
    log.setLevel(getattr(logging, level.upper(), logging.DEBUG))
    log.propagate = False


class WriteRefused(GraphError):
    """The write was not attempted: invalid input, or an article that cannot be written."""

    extensions = {"code": "BAD_USER_INPUT"}


class WriteFailed(GraphError):
    """The file system refused a write; every file and the graph are as they were."""

    extensions = {"code": "WRITE_FAILED"}


@dataclass(frozen=True, slots=True)
class Change:
    """One applied change: the graph version it made and the article URLs it touched."""

    version: int
    added: list[str]
    changed: list[str]
    removed: list[str]
    files: list[str] = field(default_factory=list)  # paths (relative) re-read or written


@dataclass(frozen=True, slots=True)
class Written:
    url: str  # the article's key in the graph after the write
    paths: list[str]  # files written (or removed), relative to the corpus folder
    created: bool  # a new file was made for a new article


@dataclass(frozen=True, slots=True)
class WriteResult:
    graph: LinkGraph  # the version that shows the write (the current one if it was a no-op)
    change: Change | None  # None when the files already said exactly this
    items: list[Written]

    @property
    def version(self) -> int:
        return self.graph.version


# -- articles -> file text -------------------------------------------------------------
def new_file_name(url: str, title: str | None = None, published: datetime | None = None) -> str:
    """The file name a new article gets: date, slug and a hash of its canonical URL.

    >>> new_file_name("https://a.example/x", "Héllo, World!", datetime(2024, 1, 2))
    '2024-01-02-hello-world-39021306.md'
    """
    text = title or urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-") or "article"
    digest = hashlib.sha256(canonical_url(url).encode()).hexdigest()[:8]
    day = ""
    if published is not None:
        day = (published.astimezone(UTC) if published.tzinfo else published).strftime("%Y-%m-%d-")
    return f"{day}{slug}-{digest}.md"


def _clean(message: str) -> str:
    for tail in ("; kept in extra", "; skipped"):
        message = message.removesuffix(tail)
    return message


def prepare_article(
    fm: dict[str, Any], body: str | None = None, where: str = "input"
) -> tuple[bytes, ArticleRecord]:
    """Render one article as file text and validate it exactly as a file is validated.

    Raises :class:`WriteRefused` naming every error; warnings are allowed.
    """
    data, rec, _ = _prepare(fm, body, where)
    return data, rec


def _prepare(
    fm: dict[str, Any], body: str | None, where: str
) -> tuple[bytes, ArticleRecord, list[LoadIssue]]:
    """:func:`prepare_article`, with the warnings of the parse (for ``where``)."""
    try:
        text = render(fm, body)
    except (yaml.YAMLError, TypeError, ValueError) as e:
        raise WriteRefused(f"{where}: cannot be written as YAML: {e}") from None
    data = text.encode("utf-8")
    rec, issues = parse_bytes(data, where)
    errors = [_clean(i.message) for i in issues if i.severity == "error"]
    if rec is not None and not errors:
        url = rec.primary_url
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            errors.append(f"{next(iter(rec.urls))} must be an absolute http(s) URL, got {url!r}")
    if rec is None or errors:
        raise WriteRefused(f"invalid article {where}: " + "; ".join(errors or ["no record"]))
    return data, rec, issues


def _as_file(rec: ArticleRecord, issues: list[LoadIssue], rel: str):
    """A record and issues parsed for an input, as parsing them from ``rel`` gives them
    (only the path differs): a write parses its bytes once."""
    return dataclasses.replace(rec, path=rel), [dataclasses.replace(i, path=rel) for i in issues]


# -- small file helpers ----------------------------------------------------------------------
def _sig_of(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _sig(path: str) -> tuple[int, int, int, int] | None:
    try:
        return _sig_of(os.lstat(path))  # a symlink is an entry of its own, not followed
    except OSError:
        return None


def _read_failed(issues: list[LoadIssue]) -> bool:
    return any(i.message.startswith(READ_FAILED) for i in issues)


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split(os.sep) if part)


def _article_sig(lg: LinkGraph, key: str) -> tuple:
    a = lg.data(key)
    own = tuple(getattr(a, f.name) for f in dataclasses.fields(a))
    links = sorted((v, d.get("kind"), d.get("rank", -1)) for v, d in successors(lg.g)[key].items())
    return own, tuple(links)


def diff(
    old: LinkGraph,
    new: LinkGraph,
    touched: Iterable[ArticleRecord],
    keys: Iterable[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(added, changed, removed) article URLs between two versions.

    ``touched`` are the records (old and new) of the files that changed: only articles
    they name, and articles linking to a key that came or went, can have changed.
    ``keys``, when given, are the only article keys that can have come or gone (what
    the delta set or removed): then the two versions are not listed whole.
    """
    if keys is not None:
        old_keys, new_keys = node_attrs(old.g), node_attrs(new.g)  # membership only
        added = {k for k in keys if k in new_keys and k not in old_keys}
        removed = {k for k in keys if k in old_keys and k not in new_keys}
    else:
        old_keys, new_keys = set(old.article_keys()), set(new.article_keys())
        added, removed = new_keys - old_keys, old_keys - new_keys
    candidates: set[str] = set()
    for rec in touched:
        for r in (rec, *rec.related):
            for u in r.urls.values():
                for lg in (old, new):
                    k = lg.resolve(u)
                    if k is not None:
                        candidates.add(k)
    for k in added:
        candidates.update(new.g.predecessors(k))
    for k in removed:
        candidates.update(old.g.predecessors(k))
    changed = [
        k
        for k in candidates
        if k in old_keys and k in new_keys and _article_sig(old, k) != _article_sig(new, k)
    ]
    return sorted(added), sorted(changed), sorted(removed)


@dataclass(slots=True)
class Loaded:
    """How :meth:`LiveCorpus.load` got its graph."""

    seconds: float
    source: str  # "snapshot" or "files"
    note: str | None = None  # why no snapshot was used, or why none was written
    snapshot: Path | None = None
    reread: int = 0  # files read again after a snapshot (their signature changed)

    @property
    def graph(self) -> LinkGraph:  # filled in by load()
        return self._graph

    _graph: Any = None


class Journal:
    """The versions several processes serving one folder share (``serve --workers N``).

    Two files next to the folder's snapshot: ``<snapshot>.lock``, taken with
    ``fcntl.flock`` around every change, and ``<snapshot>.journal``, one JSON line per
    version, ``{"v": version, "paths": [relative paths]}``. A process that applies a
    change (its watcher saw one, or it was asked to write) takes the lock, first applies
    every line it has not seen yet (re-reading those paths, with their version numbers,
    an empty version if it finds nothing new), then applies its own change as the next
    version and appends its line. The others poll the journal (every 100 ms) and apply
    new lines the same way. So every process makes the same versions in the same order,
    and each publishes every one of them to its own subscribers.
    """

    def __init__(self, base: Path):
        self.path = Path(str(base) + ".journal")
        self.lock_path = Path(str(base) + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._offset = 0
        self._held = 0
        self.last = 0  # the last version seen in the journal

    @contextlib.contextmanager
    def locked(self):
        import fcntl

        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._held = 1
        try:
            yield
        finally:
            self._held = 0
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def reset(self, version: int) -> None:
        """Start the journal again at ``version`` (the supervisor, before the workers)."""
        with self.locked():
            _write_atomic(self.path, json.dumps({"v": version, "paths": []}).encode() + b"\n")

    def new_lines(self) -> list[tuple[int, list[str]]]:
        """Lines appended since the last call (complete lines only)."""
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:
                    self._offset = 0  # started again
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        out = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                d = json.loads(line)
                out.append((int(d["v"]), list(d["paths"])))
        return out

    def append(self, version: int, paths: list[str]) -> None:
        line = json.dumps({"v": version, "paths": paths}).encode() + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.last = max(self.last, version)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = Path(f"{path}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class LiveCorpus:
    """A corpus folder and its live graph: load, snapshot, follow, write, apply deltas.

    Every way of serving a folder goes through this object:

    * :meth:`load` reads the folder's snapshot when it is valid (same corpus folder,
      same graphsvc and code, intact) and then re-reads only the files whose signature
      (inode, size, mtime, ctime) changed since, applied as one delta; else it reads
      every file (cold), and writes a snapshot.
    * :meth:`apply` is the one entry point for changes: records removed/added per
      source path, the next version (``version``: default current + 1; a second change
      source, such as a database's change log, passes its own numbers), published to
      :meth:`subscribe` listeners as a :class:`Change`. The folder watcher
      (:meth:`start_watching`) and the writes (:meth:`upsert`, :meth:`delete`) feed it.
    * :meth:`save_snapshot` keeps the snapshot current: the watcher writes it every
      ``snapshot_interval`` seconds when something changed (from a forked child, so
      serving is not held up), and :meth:`stop_watching` / :meth:`close` at shutdown.

    With ``keep_state=False`` (a static server, ``validate``) the delta state is dropped
    after loading: the graph alone is served and nothing can be applied.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        store: GraphStore | None = None,
        workers: int | None = None,
        load: bool = True,
        *,
        cache: bool = False,
        cache_dir: Path | None = None,
        keep_state: bool = True,
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        shared: bool = False,
    ):
        """Reads the folder now, or, with ``load=False``, when :meth:`load` is called."""
        # The real path: file system events name real paths, whatever symlinks led here.
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"corpus folder not found: {root}")
        self.store = store if store is not None else GraphStore()
        if cache:
            # The code's fingerprint (part of every snapshot's key) is taken now, from the
            # code this process runs, so the children it forks (a cold load, snapshot
            # writers) key their snapshots as it reads them, even if the files on disk
            # change meanwhile (an upgrade while serving).
            snapshot.code_fingerprint()
        self.lock = threading.RLock()
        self.keep_state = keep_state
        self._sigs: dict[str, tuple | None] = {}  # every file's signature as last read
        self._listeners: list[Callable[[Change], None]] = []
        # Apart from ``lock``: (un)subscribing from the event loop never waits for a change.
        self._listeners_lock = threading.Lock()
        self._watcher: tuple[threading.Thread, threading.Event] | None = None
        self.cache = cache
        self.snapshot_path = snapshot.snapshot_path(self.root, cache_dir) if cache else None
        # Made by the load (or the first apply() of a corpus never loaded), not here: a
        # full disk fails the load, which is tried again, never the constructor.
        self.state: GraphState | None = None
        # The load report's warnings about a write journal, as the last listing found them.
        self._journal_issues: list[LoadIssue] = []
        self.snapshot_interval = snapshot_interval
        self._unsaved = False  # versions applied since the snapshot was written
        self._saved_at = time.monotonic()
        self._snap_child: int | None = None
        self.loaded: Loaded | None = None
        # With ``shared``, several processes serve this folder and share versions.
        self.journal = Journal(snapshot.snapshot_path(self.root, cache_dir)) if shared else None
        # Files whose read failed, and whether a listing failed: tried again (retry()).
        self._retry: set[str] = set()
        self._rescan = False
        self._retry_at = 0.0
        if load:
            self.load(workers)

    # -- loading ---------------------------------------------------------------------
    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def _sweep(self) -> None:
        """Remove temporary files a killed writer left (hidden, ours by name, old)."""
        now = time.time()
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith(".") and name.endswith(TMP_SUFFIX):
                    path = os.path.join(dirpath, name)
                    with contextlib.suppress(OSError):
                        if now - os.lstat(path).st_mtime > STALE_TMP_SECONDS:
                            fs.delete(self.root, self._rel(path))
                            log.info("removed %s, left by an interrupted write", path)

    def load(
        self,
        workers: int | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        on_files: Callable[[int], None] | None = None,
    ) -> Loaded:
        """Read the folder (from its snapshot when valid) and serve the graph it makes.

        ``on_files(n)`` is told how many files there are before a cold load parses them
        (to size a progress bar); ``progress(k)`` as they are parsed."""
        t0 = time.perf_counter()
        self._sweep()
        paths, self._journal_issues = list_folder(self.root)
        # Stat before reading: a file changed during the load has a newer signature than
        # the one kept, so the first rescan reads it again.
        sigs = {self._rel(p): _sig(p) for p in paths}
        with self.lock, self._shared(catch_up=False):
            done = self._load(t0, paths, sigs, workers, progress, on_files)
            if self.journal is not None:  # the shared version: where the journal is
                lines = self.journal.new_lines()
                last = max([self.journal.last, *(v for v, _ in lines)])
                self.journal.last = last
                if last > self.graph.version:
                    self.graph.version = last  # not served yet (/readyz waits for load)
            return done

    def _load(self, t0, paths, sigs, workers, progress, on_files) -> Loaded:
        note = None
        if True:  # (one level, as when this ran under the lock itself)
            if self.cache:
                try:
                    payload = snapshot.load(self.snapshot_path, self._key())
                    note = self._install(payload)
                except snapshot.Rejected as e:
                    note = str(e)
                if note is None:
                    reread = self._catch_up(sigs)
                    if reread is not None:
                        return self._loaded(t0, "snapshot", None, reread)
                    note = "files changed since a snapshot written without delta state"
            if on_files:
                on_files(len(paths))
            if (
                self.cache
                and len(paths) >= ISOLATE_MIN_FILES
                and _writable(self.snapshot_path.parent)
            ):
                why = self._cold_in_child(paths, sigs, workers, progress)
                if why is None:
                    if not self.keep_state:
                        self._set_state(None)
                    return self._loaded(t0, "files", note)
                note = f"{note}; {why}"
            self._cold(paths, sigs, workers, progress)
            if self.cache:
                try:
                    self.save_snapshot()
                except (OSError, pickle.PicklingError, TypeError, RecursionError) as e:
                    # A read-only cache, a full disk or something unpicklable: serve anyway.
                    note = f"{note}; no snapshot written: {e}"
            if not self.keep_state:
                self._set_state(None)
            return self._loaded(t0, "files", note)

    def _loaded(self, t0: float, source: str, note: str | None, reread: int = 0) -> Loaded:
        done = Loaded(time.perf_counter() - t0, source, note, self.snapshot_path, reread)
        done._graph = self.store.current
        self.loaded = done
        return done

    def _key(self) -> snapshot.Key:
        return snapshot.Key(self.root)

    def _read_all(self, paths: list[str], workers, progress) -> tuple[dict, dict]:
        with paused_gc():
            corpus = load_corpus(self.root, workers, progress=progress, paths=paths)
        records = {r.path: r for r in corpus.records}
        issues: dict[str, list[LoadIssue]] = {}
        for issue in corpus.issues:
            issues.setdefault(issue.path, []).append(issue)
        return records, issues

    def _cold(self, paths: list[str], sigs: dict, workers, progress) -> None:
        """Read every file and serve the graph they make (the delta state with it)."""
        records, issues = self._read_all(paths, workers, progress)
        if self._journal_issues:
            issues[journal.JOURNAL] = list(self._journal_issues)
        self._retry = set()
        for rel, found in issues.items():
            if _read_failed(found):
                sigs[rel] = None  # read again: the failure may pass
                self._retry.add(rel)
        old = self.store.current
        version = old.version + 1 if old else 1
        with paused_gc():
            if self.keep_state:
                self._set_state(self._new_state())
                try:
                    lg = self.state.apply(
                        None, records, issues, files=len(sigs), root=self.root, version=version
                    )
                except BaseException:  # e.g. a full disk: its file goes now, not at exit
                    self._set_state(None)
                    raise
            else:
                corpus = Corpus(root=self.root, files=len(sigs))
                corpus.records = [records[r] for r in sorted(records)]
                corpus.issues = [i for r in sorted(issues) for i in issues[r]]
                lg = build_graph(corpus, version=version)
                self._set_state(None)
        self._sigs = sigs
        self._unsaved = True
        self.store.swap(lg)

    def _new_state(self) -> GraphState:
        """An empty delta state; its database beside the snapshot when there is one."""
        folder = None
        if self.snapshot_path is not None and _writable(self.snapshot_path.parent):
            folder = str(self.snapshot_path.parent)
        return GraphState(folder)

    def _set_state(self, state: GraphState | None) -> None:
        if self.state is not None and self.state is not state:
            self.state.close()
        self.state = state

    def _install(self, payload: Any) -> str | None:
        """Serve a snapshot's graph and state; a reason when it cannot be used."""
        if not isinstance(payload, dict) or not isinstance(payload.get("graph"), LinkGraph):
            return "snapshot holds no graph"
        state = payload.get("state")
        if self.keep_state and not isinstance(state, GraphState):
            return "snapshot has no delta state (written by a read-only server)"
        lg = payload["graph"]
        old = self.store.current
        if old is not None and lg.version <= old.version:
            lg.version = old.version + 1
        self._set_state(state if self.keep_state else None)
        self._sigs = dict(payload.get("sigs") or {})
        self._unsaved = False
        self.store.swap(lg)
        return None

    def _catch_up(self, sigs: dict) -> int | None:
        """Re-read the files whose signature differs from the one the graph was made of;
        how many. None when some did and the snapshot has no state to apply them to."""
        changed = {r for r in self._sigs if r not in sigs}
        changed |= {r for r, sig in sigs.items() if sig is None or self._sigs.get(r) != sig}
        found = self._journal_found()
        if not changed and not found:
            return 0
        if self.state is None:  # a static snapshot cannot take deltas
            return None
        # Shared: the journal's lines cover these changes; the version is set after.
        version = self.graph.version if self.journal else None
        self._refresh_rels(changed, version=version, found=found)
        return len(changed)

    def _journal_found(self) -> dict[str, list[LoadIssue]]:
        """``{journal: its warnings}`` when the load report says otherwise: a listing met
        a malformed write journal, or the snapshot's report names one that is gone."""
        if self.state is not None:
            shown = self.state.file_issues.get(journal.JOURNAL, [])
        else:
            lg = self.graph
            shown = [i for i in lg.issues if i.path == journal.JOURNAL] if lg else []
        now = self._journal_issues
        return {} if shown == now else {journal.JOURNAL: list(now)}

    def _cold_in_child(self, paths, sigs, workers, progress) -> str | None:
        """Cold-load in a forked child that writes the snapshot, then read it here: a graph
        unpickled in one go sits in about 40% less memory than one built among all the
        records it was built from. None when that worked, else why not."""
        import multiprocessing as mp

        try:
            ctx = mp.get_context("fork")
        except ValueError:  # no fork on this platform
            return "no fork"
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=self._child, args=(send, paths, sigs, workers))
        proc.start()
        send.close()
        outcome: tuple = ("failed", "the loading process died")
        try:
            while True:
                try:
                    msg = recv.recv()
                except EOFError:
                    break
                if isinstance(msg, int):
                    if progress:
                        progress(msg)
                else:
                    outcome = msg
                    break
        finally:
            recv.close()
            proc.join()
        if outcome[0] != "done":
            return f"loading in a child process failed ({outcome[1]}); loaded here instead"
        try:
            why = self._install(snapshot.load(self.snapshot_path, self._key()))
        except snapshot.Rejected as e:
            why = str(e)
        return None if why is None else f"the fresh snapshot was not usable ({why})"

    def _child(self, conn, paths, sigs, workers) -> None:
        try:
            self._cold(paths, sigs, workers, conn.send)
            self._save_snapshot(fork=False, move=True)  # the state is not used again
            conn.send(("done", None))
        except BaseException as e:  # noqa: BLE001 - reported to the parent, which loads itself
            conn.send(("failed", f"{type(e).__name__}: {e}"))
        finally:
            if self.state is not None:
                self.state.close()  # this process leaves by os._exit: no finalizers
            conn.close()

    @contextlib.contextmanager
    def _shared(self, catch_up: bool = True):
        """With a journal: hold its lock, having applied the versions others made."""
        if self.journal is None:
            yield
            return
        with self.journal.locked():
            if catch_up:
                self.follow_journal()
            yield

    def follow_journal(self) -> int:
        """Apply the journal's new lines (other processes' versions); how many."""
        if self.journal is None or self.state is None:
            return 0
        n = 0
        with self.lock:
            for v, paths in self.journal.new_lines():
                self.journal.last = max(self.journal.last, v)
                if v <= self.graph.version:
                    continue
                self._refresh_rels(paths, version=v, force=True)
                n += 1
        return n

    # -- snapshots -------------------------------------------------------------------------
    def save_snapshot(self, background: bool = False) -> None:
        """Write the snapshot of the current version (graph, delta state, signatures).

        Atomic (a temporary file renamed over the old one). With ``background`` it is
        written by a forked child holding this moment's memory copy-on-write, so the
        server keeps answering; the child's pages grow only with what it touches."""
        if not self.cache:
            return
        with self.lock:
            if background and hasattr(os, "fork"):
                self._reap()
                if self._snap_child is not None:
                    return  # the last one is still writing: next time
            self._save_snapshot(background and hasattr(os, "fork"))
            self._unsaved = False
            self._saved_at = time.monotonic()

    def _snapshot_payload(self) -> dict:
        """What a snapshot holds (a subclass may add to it; called under the lock)."""
        return {"graph": self.store.current, "state": self.state, "sigs": self._sigs}

    def _save_snapshot(self, fork: bool, move: bool = False) -> None:
        # The delta state's database goes beside the snapshot, copied now (under the
        # lock: writes wait for the copy, readers do not), so that it matches the graph.
        side = None
        if self.state is not None:
            self.snapshot_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            side = snapshot.sidecar_path(self.snapshot_path)
        frozen = self.state.frozen(side, move) if self.state else contextlib.nullcontext()
        try:
            with frozen:
                payload = self._snapshot_payload()
                if not fork:
                    snapshot.save(self.snapshot_path, self._key(), payload, side)
                    return
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:  # the child: write and leave, touching nothing else
                    code = 1
                    try:
                        # Serving comes first: on a small machine the pickling child
                        # would otherwise take a core from the server for its duration.
                        with contextlib.suppress(OSError):
                            os.nice(10)
                        snapshot.save(self.snapshot_path, self._key(), payload, side)
                        code = 0
                    finally:
                        os._exit(code)
                self._snap_child = pid
        except BaseException:
            if side is not None:  # save() removes it too; a failed copy or fork does not
                with contextlib.suppress(OSError):
                    os.unlink(side)
            raise

    def _reap(self, wait: bool = False) -> None:
        if self._snap_child is None:
            return
        try:
            pid, status = os.waitpid(self._snap_child, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            pid, status = self._snap_child, 0
        if pid:
            if status:
                log.warning("writing the snapshot of %s failed (status %d)", self.root, status)
            self._snap_child = None

    def _maybe_snapshot(self) -> None:
        if self._unsaved and time.monotonic() - self._saved_at >= self.snapshot_interval:
            try:
                self.save_snapshot(background=True)
            except Exception:  # noqa: BLE001 - serving goes on without a fresh snapshot
                log.exception("could not write the snapshot of %s", self.root)

    def close(self) -> None:
        """At exit: stop following the folder, write the snapshot if anything changed and
        remove the delta state's working file (``.graphsvc-state-*.sqlite``); the corpus
        takes no changes after. The app calls it at shutdown, before uvicorn ends the
        process with the SIGTERM it caught (no ``atexit`` then)."""
        self.stop_watching()
        self._save_unsaved()
        # Not while a load or change holds the lock: its file is swept at the next start.
        if self.lock.acquire(blocking=False):
            try:
                self._set_state(None)
            finally:
                self.lock.release()

    def _save_unsaved(self) -> None:
        """Write the snapshot if anything changed since the last one (after any being
        written in the background)."""
        self._reap(wait=True)
        if self._unsaved and self.state is not None:
            try:
                self.save_snapshot()
            except Exception:  # noqa: BLE001
                log.exception("could not write the snapshot of %s", self.root)

    @property
    def graph(self) -> LinkGraph:
        return self.store.current

    # -- listeners -----------------------------------------------------------------------
    def subscribe(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``listener(change)`` after each new version, in version order, from the
        thread that applied it (so it must not block). Returns the unsubscribe function."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    # -- applying ------------------------------------------------------------------------
    def apply(
        self,
        records: dict[str, ArticleRecord | None],
        issues: dict[str, list[LoadIssue]] | None = None,
        *,
        version: int | None = None,
        files: Iterable[str] | None = None,
        force: bool = False,
    ) -> Change | None:
        """Apply a delta as the next graph version and publish it; None if it is empty.

        ``records`` maps each changed source path to its new record (None: it gives none
        now); ``issues`` each path whose problems changed to its problems now.
        ``version`` is the next version's number (default: current + 1). ``files`` are
        the paths named in the Change (default: those of the delta). ``force`` makes a
        version even of an empty delta (a shared version another process made)."""
        if not records and not issues and not force:
            return None
        with self.lock:
            if self.state is None:
                if not self.keep_state or self.store.current is not None:
                    raise RuntimeError("this corpus is served read-only: it takes no changes")
                self._set_state(self._new_state())  # never loaded: this builds it
            old = self.store.current
            touched = [r for p in records if (r := self.state.records.get(p)) is not None]
            touched += [r for r in records.values() if r is not None]
            new = self.state.apply(
                old, records, issues, files=len(self._sigs), root=self.root, version=version
            )
            added, changed, removed = (
                diff(old, new, touched, self.state.last_touched) if old else ([], [], [])
            )
            paths = sorted(files) if files is not None else sorted({*records, *(issues or ())})
            change = Change(new.version, added, changed, removed, paths)
            self._unsaved = True
            if self.journal is not None and version is None:
                self.journal.append(new.version, paths)
            self.store.swap(new)
            log.info(
                "version %d: %d files; %d articles added, %d changed, %d removed",
                change.version,
                len(paths),
                len(added),
                len(changed),
                len(removed),
            )
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(change)
                except Exception:  # a listener must not stop the others, nor the change
                    log.exception("graph change listener failed")
            return change

    def _expand(self, paths: Iterable[str]) -> set[str] | None:
        """Relative paths to re-read for these changed paths; None means rescan all."""
        rels: set[str] = set()
        for p in paths:
            rel = self._rel(os.path.abspath(p))
            if rel == ".":
                return None
            if rel.startswith(".." + os.sep) or rel == ".." or _hidden(rel):
                continue
            try:
                st = fs.lstat(self.root, rel)  # None: gone, or only reached through a symlink
            except OSError:  # EMFILE...: refresh tries, reports, and retries it
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):  # a folder moved in, or back
                rels.update(fs.entries(self.root, rel))
            else:
                rels.add(rel)
            if st is None and rel not in self._sigs:
                # Gone and not a file we know: perhaps a folder moved out or removed, and
                # its files with it. (Not for a file: this looks at every file's path.)
                prefix = rel + os.sep
                rels.update(r for r in self._sigs if r.startswith(prefix))
        return rels

    def _scan(self) -> set[str]:
        """Files that appeared, vanished or whose signature changed."""
        paths, problems = list_folder(self.root)
        if problems:  # a journal met now: its warnings stay until the next load
            self._journal_issues = problems
        present = {self._rel(p): p for p in paths}
        rels = {r for r in self._sigs if r not in present}
        for rel, path in present.items():
            sig = self._sigs.get(rel)
            if sig is None or sig != _sig(path):
                rels.add(rel)
        return rels

    def _file_update(self, rel: str, sig, rec: ArticleRecord | None, issues: list[LoadIssue]):
        """(record, issues) the graph should use for a file read as ``rec``, ``issues``:
        a file that stops parsing keeps serving its last good record, with a warning."""
        last = self.state.records.get(rel)
        self._sigs[rel] = sig
        if rec is None and last is not None:
            note = LoadIssue(
                rel, None, "the file does not load; its last good version is served", "warning"
            )
            return last, [*issues, note]
        return rec, issues

    def _stage(self, rel, rec, issues, records: dict, found: dict) -> None:
        """Add a file's new (record, issues) to a delta if they differ from the graph's."""
        if rec != self.state.records.get(rel):
            records[rel] = rec
        if issues != self.state.file_issues.get(rel, []):
            found[rel] = issues

    def _refresh_rels(
        self,
        rels: Iterable[str],
        version: int | None = None,
        force: bool = False,
        found: dict[str, list[LoadIssue]] | None = None,
    ) -> Change | None:
        """Re-read ``rels`` and apply what changed; ``found``: issues to set besides."""
        records: dict[str, ArticleRecord | None] = {}
        found = dict(found or {})
        files = set()
        for rel in sorted(rels):
            path = self._abs(rel)
            try:
                entry = fs.lstat(self.root, rel)
            except OSError as e:
                sig, rec = None, None
                issues = [LoadIssue(rel, None, f"{READ_FAILED}: {e.strerror or e}")]
            else:
                if entry is None or stat.S_ISDIR(entry.st_mode):
                    self._retry.discard(rel)
                    if rel in self._sigs:
                        del self._sigs[rel]
                        files.add(rel)
                        self._stage(rel, None, [], records, found)
                    continue
                sig = _sig_of(entry)
                if sig == self._sigs.get(rel) and rel not in self._retry:
                    continue  # as last read or written here (a write's own event)
                rec, issues = read_file(path, self.root)
            if _read_failed(issues):
                if rel not in self._retry:
                    log.warning("%s; reading it again every %g s", issues[0], RETRY_SECONDS)
                sig = None  # not read: a rescan reads it again
                self._retry.add(rel)
            else:
                self._retry.discard(rel)
            new_file = rel not in self._sigs
            rec, issues = self._file_update(rel, sig, rec, issues)
            self._stage(rel, rec, issues, records, found)
            if new_file or rel in records or rel in found:
                files.add(rel)
        if not files and not found and not force:
            return None
        if not records and not found and files:  # a file came or went that gives nothing
            found = {rel: self.state.file_issues.get(rel, []) for rel in files}
        if version is not None and version <= self.graph.version and not force:
            version = None if not self.journal else self.graph.version
        return self.apply(records, found, files=files, version=version, force=force)

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Re-read ``paths`` (absolute or relative to the root; default: rescan the whole
        folder) and apply what changed as one new version. None when nothing did."""
        with self.lock, self._shared():
            try:
                rels = (
                    None
                    if paths is None
                    else self._expand(p if os.path.isabs(p) else self._abs(p) for p in paths)
                )
                if rels is None:
                    rels = self._scan()
                    self._rescan = False
            except OSError as e:  # EMFILE, EIO...: list again soon, lose nothing meanwhile
                log.warning("could not list %s: %s; trying again", self.root, e.strerror or e)
                self._rescan = True
                return None
            return self._refresh_rels(rels, found=self._journal_found())

    def retry(self) -> Change | None:
        """Read again the files whose read failed, or list the folder again when a
        listing failed, at most every :data:`RETRY_SECONDS` (the watcher calls this)."""
        if not (self._retry or self._rescan) or time.monotonic() < self._retry_at:
            return None
        self._retry_at = time.monotonic() + RETRY_SECONDS
        return self.refresh(None if self._rescan else sorted(self._retry))

    # -- watching ------------------------------------------------------------------------
    def start_watching(
        self, debounce_ms: int = DEBOUNCE_MS, step_ms: int = STEP_MS, ready_timeout: float = 10
    ) -> None:
        """Follow the folder from a background thread until :meth:`stop_watching`.

        Returns once the watcher is set up and has caught up with changes made before.
        """
        if self._watcher is not None:
            return
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=self._watch,
            args=(stop, ready, debounce_ms, step_ms),
            name="graphsvc-watch",
            daemon=True,
        )
        thread.start()
        self._watcher = (thread, stop)
        if not ready.wait(ready_timeout):
            log.warning("the watcher of %s is slow to start", self.root)

    def stop_watching(self, timeout: float = 10) -> None:
        """Stop following the folder; the snapshot is written if anything changed."""
        if self._watcher is None:
            return
        thread, stop = self._watcher
        stop.set()
        thread.join(timeout)
        self._watcher = None
        self._save_unsaved()

    def _wanted(self, change: Any, path: str) -> bool:
        rel = self._rel(path)
        return rel == "." or not _hidden(rel)

    def _watch(self, stop: threading.Event, ready: threading.Event, debounce: int, step: int):
        from .ingest.watch import follow, poll_interval_ms  # noqa: PLC0415

        while not stop.is_set():
            try:
                for fresh, changes in follow(
                    self.root,
                    stop,
                    watch_filter=self._wanted,
                    debounce=debounce,
                    step=step,
                    timeout_ms=100 if self.journal else 200,
                    poll_ms=lambda: poll_interval_ms(len(self._sigs)),
                ):
                    if fresh:  # a new watch is set up: catch up with anything before it
                        self.refresh()
                        if not ready.is_set():
                            log.info("following %s: caught up, watching for changes", self.root)
                            ready.set()
                    elif changes:
                        self.refresh(path for _, path in changes)
                    self.retry()
                    self.follow_journal()
                    self._maybe_snapshot()
            except Exception:
                log.exception("following %s failed; starting again in 1 s", self.root)
                stop.wait(1)
        ready.set()

    # -- writing -------------------------------------------------------------------------
    def _free_name(self, rec: ArticleRecord, taken: Iterable[str]) -> str:
        base = new_file_name(rec.primary_url, rec.title, rec.published_at)
        stem, ext = os.path.splitext(base)
        name, n = base, 1
        taken = set(taken)
        while name in taken or name in self._sigs or os.path.lexists(self._abs(name)):
            n += 1
            name = f"{stem}-{n}{ext}"
        return name

    def upsert(self, articles: Sequence[tuple[dict[str, Any], str | None]]) -> WriteResult:
        """Write each (front matter mapping, body) as an article file; apply all of them
        as one version before returning. All or nothing."""
        if not articles:
            raise WriteRefused("no articles given")
        if len(articles) > MAX_BATCH:
            raise WriteRefused(f"at most {MAX_BATCH} articles per call (got {len(articles)})")
        many = len(articles) > 1
        prepared = [
            _prepare(fm, body, f"input {i + 1}" if many else "input")
            for i, (fm, body) in enumerate(articles)
        ]
        owner: dict[str, int] = {}  # canonical URL -> input index, to catch duplicates
        for i, (_, rec, _) in enumerate(prepared):
            for u in rec.urls.values():
                j = owner.setdefault(canonical_url(u), i)
                if j != i:
                    raise WriteRefused(
                        f"inputs {j + 1} and {i + 1} describe the same article ({u}); send it once"
                    )
        with self.lock, self._shared():
            lg = self.store.current
            writes: dict[str, bytes] = {}
            parsed: dict[str, tuple[ArticleRecord, list[LoadIssue]]] = {}
            plans: list[tuple[ArticleRecord, list[str], bool]] = []
            claimed: dict[str, int] = {}  # existing article key -> input index
            for i, (data, rec, issues) in enumerate(prepared):
                where = f"input {i + 1}" if many else "the input"
                keys = {k for u in rec.urls.values() if (k := lg.resolve(u)) is not None}
                docs = sorted(k for k in keys if not lg.data(k).is_stub)
                if len(docs) > 1:
                    raise WriteRefused(
                        f"the URLs of {where} name {len(docs)} different articles "
                        f"({', '.join(docs)}); an upsert describes one article"
                    )
                if docs:
                    j = claimed.setdefault(docs[0], i)
                    if j != i:
                        raise WriteRefused(
                            f"inputs {j + 1} and {i + 1} describe the same article ({docs[0]}); "
                            "send it once"
                        )
                    rels, created = list(lg.data(docs[0]).sources), False
                else:
                    rels, created = [self._free_name(rec, writes)], True
                for rel in rels:
                    if rel in writes:
                        raise WriteRefused(f"{where} would rewrite {rel}, written by another input")
                    writes[rel] = data
                    parsed[rel] = _as_file(rec, issues, rel)
                plans.append((rec, rels, created))
            change = self._commit(writes, (), parsed)
            graph = self.store.current
            items = [
                Written(graph.resolve(rec.primary_url) or canonical_url(rec.primary_url), rels, c)
                for rec, rels, c in plans
            ]
            return WriteResult(graph, change, items)

    def delete(self, url: str) -> WriteResult:
        """Remove the files of the article ``url`` names (only those) and apply it."""
        with self.lock, self._shared():
            lg = self.store.current
            key = lg.resolve(url)
            if key is None:
                raise UnknownURL(url)
            art = lg.data(key)
            if art.is_stub:
                raise WriteRefused(
                    f"{key} is a stub, known only from related lists: it has no file to "
                    "delete (edit the articles that name it instead)"
                )
            rels = list(art.sources)
            change = self._commit({}, rels)
            return WriteResult(self.store.current, change, [Written(key, rels, False)])

    def _commit(
        self,
        writes: dict[str, bytes],
        deletes: Sequence[str],
        parsed: dict[str, tuple[ArticleRecord, list[LoadIssue]]] | None = None,
    ) -> Change | None:
        """Write and delete files, undoing all of it if one fails, then apply them.
        ``parsed``: what parsing a written file gives, when the caller has it."""
        done: list[tuple[str, bytes | None]] = []  # (rel, content before) to undo
        sigs: dict[str, tuple | None] = {}
        rel, before = "", None
        batch = None
        try:
            befores: dict[str, bytes | None] = {}  # what the batch changes, and its old bytes
            for rel, data in writes.items():
                before = fs.read_existing(self.root, rel)  # refuses a symlink
                if before == data:
                    sigs[rel] = _sig(self._abs(rel))
                else:
                    befores[rel] = before
            for rel in deletes:
                before = fs.read_existing(self.root, rel)
                if before is not None:
                    befores[rel] = before
            # A journal of the old contents first: a crash in the middle is undone on load.
            rel, before = journal.JOURNAL, None
            with journal.Batch(self.root, befores) as batch:
                for rel, before in befores.items():
                    path = self._abs(rel)
                    if rel in writes:
                        sigs[rel] = _sig_of(atomic_write(path, writes[rel], root=self.root))
                    else:
                        atomic_delete(path, root=self.root)
                    done.append((rel, before))
                    batch.step()
                batch.done()
        except OSError as e:
            what = "delete" if rel in deletes else "write"
            msg = f"could not {what} {rel}: {e.strerror or e}; nothing was changed"
            # The failing step may have got as far as the rename or the unlink (a failed
            # folder fsync comes after them): then it is undone like the ones before it.
            try:
                now = fs.read_existing(self.root, rel)
            except OSError:
                now = before
            if now != before and (not done or done[-1][0] != rel):
                done.append((rel, before))
            undo_failed = self._undo(done)
            if batch is not None and not undo_failed:
                with contextlib.suppress(OSError):  # else the next listing undoes it
                    batch.done()
            if undo_failed:
                msg += f" (but undoing the earlier writes failed for {', '.join(undo_failed)})"
            log.error("%s", msg)
            raise WriteFailed(msg) from None
        records: dict[str, ArticleRecord | None] = {}
        found: dict[str, list[LoadIssue]] = {}
        for rel, data in writes.items():
            rec, issues = parsed[rel] if parsed and rel in parsed else parse_bytes(data, rel)
            self._sigs[rel] = sigs[rel]
            self._stage(rel, rec, issues, records, found)
        for rel in deletes:
            if self._sigs.pop(rel, False) is not False:
                self._stage(rel, None, [], records, found)
        return self.apply(records, found, files=[*writes, *deletes])

    def _undo(self, done: list[tuple[str, bytes | None]]) -> list[str]:
        failed = []
        for rel, before in reversed(done):
            try:
                if before is None:
                    atomic_delete(self._abs(rel), root=self.root)
                else:
                    atomic_write(self._abs(rel), before, root=self.root)
            except OSError:
                log.exception("could not undo the write of %s", rel)
                failed.append(rel)
        return failed
