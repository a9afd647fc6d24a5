"""Live data: a corpus folder that changes while it is served.

:class:`LiveCorpus` keeps what every file last said (its record and its problems) and
the graph built from them, held in a :class:`~graphsvc.graph.store.GraphStore`. A
change, whether seen in the folder or written through :meth:`LiveCorpus.upsert` /
:meth:`LiveCorpus.delete`, re-reads only the files it touches, builds the next graph
version aside from the records and swaps it in whole, so a reader holding a version
never sees half an update. Listeners hear each new version with the article URLs it
added, changed and removed.

Rules:

* A file that stops parsing keeps serving its last good version; the error (and a
  warning saying the old version is served) is in the load report until it is fixed.
* Writes are atomic (:func:`~graphsvc.ingest.write.atomic_write`) and serialised by
  one lock per corpus. An upsert of an article that has files rewrites those files
  (every file that describes it, so the upsert is what the graph shows); a new
  article gets a new file named by :func:`new_file_name`. A delete removes only the
  article's own files. No other file is ever written.
* A batch of writes is all or nothing: when one write fails the ones before it are
  undone, and the graph is not touched.

Nothing here knows about GraphQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

from .graph import LinkGraph, build_graph
from .graph.errors import GraphError, UnknownURL
from .graph.store import GraphStore
from .graph.urls import canonical_url
from .ingest import Corpus, fs, journal, list_files, load_corpus, parse_bytes, read_file
from .ingest.loader import READ_FAILED
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


@dataclass(slots=True)
class FileState:
    """What one file of the folder contributes."""

    sig: tuple[int, int, int] | None  # (inode, size, mtime_ns) of the content read
    record: ArticleRecord | None  # what the graph uses: the last good parse
    issues: list[LoadIssue]  # the problems of the content as it is now
    broken: bool = False  # the content does not parse; ``record`` is an older version

    def same(self, other: FileState) -> bool:
        return (self.record, self.issues, self.broken) == (
            other.record,
            other.issues,
            other.broken,
        )


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
    return data, rec


# -- small file helpers ----------------------------------------------------------------------
def _sig_of(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _sig(path: str) -> tuple[int, int, int] | None:
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
    links = sorted((v, d.get("kind"), d.get("rank", -1)) for v, d in lg.g._succ[key].items())
    return own, tuple(links)


def diff(
    old: LinkGraph, new: LinkGraph, touched: Iterable[ArticleRecord]
) -> tuple[list[str], list[str], list[str]]:
    """(added, changed, removed) article URLs between two versions.

    ``touched`` are the records (old and new) of the files that changed: only articles
    they name, and articles linking to a key that came or went, can have changed.
    """
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


class LiveCorpus:
    """A corpus folder, its per-file records and the graph store that serves them."""

    def __init__(
        self,
        root: str | os.PathLike,
        store: GraphStore | None = None,
        workers: int | None = None,
        load: bool = True,
    ):
        """Reads the folder now, or, with ``load=False``, when :meth:`load` is called."""
        # The real path: file system events name real paths, whatever symlinks led here.
        self.root = os.path.realpath(root)
        self.store = store if store is not None else GraphStore()
        self.lock = threading.RLock()
        self._files: dict[str, FileState] = {}
        self._listeners: list[Callable[[Change], None]] = []
        # Apart from ``lock``: (un)subscribing from the event loop never waits for a rebuild.
        self._listeners_lock = threading.Lock()
        self._watcher: tuple[threading.Thread, threading.Event] | None = None
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

    def load(self, workers: int | None = None) -> None:
        """Read the whole folder and serve the graph it makes."""
        self._sweep()
        # Stat before reading: a file changed during the load has a newer signature than
        # the one kept, so the first rescan reads it again.
        sigs = {self._rel(p): _sig(p) for p in list_files(self.root)}
        corpus = load_corpus(self.root, workers)
        issues: dict[str, list[LoadIssue]] = {}
        for issue in corpus.issues:
            issues.setdefault(issue.path, []).append(issue)
        records = {r.path: r for r in corpus.records}
        files = {}
        retry = set()
        for rel in sorted(set(sigs) | set(issues) | set(records)):
            rec = records.get(rel)
            sig = sigs.get(rel)
            if _read_failed(issues.get(rel, [])):
                sig = None  # read again: the failure may pass
                retry.add(rel)
            files[rel] = FileState(sig, rec, issues.get(rel, []), broken=rec is None)
        with self.lock:
            self._files = files
            self._retry = retry
            old = self.store.current
            self.store.swap(self._build(files, old.version + 1 if old else 1))

    def _build(self, files: dict[str, FileState], version: int) -> LinkGraph:
        corpus = Corpus(root=self.root, files=len(files))
        for rel in sorted(files):
            st = files[rel]
            corpus.issues.extend(st.issues)
            if st.record is not None:
                corpus.records.append(st.record)
        return build_graph(corpus, version=version)

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
    def _next_state(
        self, rel: str, sig, rec: ArticleRecord | None, issues: list[LoadIssue]
    ) -> FileState:
        old = self._files.get(rel)
        if rec is None and old is not None and old.record is not None:
            note = LoadIssue(
                rel, None, "the file does not load; its last good version is served", "warning"
            )
            return FileState(sig, old.record, [*issues, note], broken=True)
        return FileState(sig, rec, issues, broken=rec is None)

    def _apply(self, updates: dict[str, FileState | None]) -> Change | None:
        """Build the next version with ``updates`` (None = the file is gone) and swap it in."""
        if not updates:
            return None
        old_graph = self.store.current
        files = dict(self._files)
        touched: list[ArticleRecord] = []
        for rel, st in updates.items():
            before = files.pop(rel, None)
            if before is not None and before.record is not None:
                touched.append(before.record)
            if st is not None:
                files[rel] = st
                if st.record is not None:
                    touched.append(st.record)
        new_graph = self._build(files, old_graph.version + 1)
        added, changed, removed = diff(old_graph, new_graph, touched)
        change = Change(new_graph.version, added, changed, removed, sorted(updates))
        self._files = files
        self.store.swap(new_graph)
        log.info(
            "version %d: %d files; %d articles added, %d changed, %d removed",
            change.version,
            len(updates),
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
            prefix = rel + os.sep  # a folder moved out or removed: its files are gone
            rels.update(r for r in self._files if r.startswith(prefix))
        return rels

    def _scan(self) -> set[str]:
        """Files that appeared, vanished or whose signature changed."""
        present = {self._rel(p): p for p in list_files(self.root)}
        rels = {r for r in self._files if r not in present}
        for rel, path in present.items():
            st = self._files.get(rel)
            if st is None or st.sig is None or st.sig != _sig(path):
                rels.add(rel)
        return rels

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Re-read ``paths`` (absolute or relative to the root; default: rescan the whole
        folder) and apply what changed as one new version. None when nothing did."""
        with self.lock:
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
            updates: dict[str, FileState | None] = {}
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
                        if rel in self._files:
                            updates[rel] = None
                        continue
                    sig = _sig_of(entry)
                    rec, issues = read_file(path, self.root)
                if _read_failed(issues):
                    if rel not in self._retry:
                        log.warning("%s; reading it again every %g s", issues[0], RETRY_SECONDS)
                    sig = None  # not read: a rescan reads it again
                    self._retry.add(rel)
                else:
                    self._retry.discard(rel)
                new = self._next_state(rel, sig, rec, issues)
                old = self._files.get(rel)
                if old is None or not old.same(new):
                    updates[rel] = new
                else:
                    old.sig = sig
            return self._apply(updates)

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
        if self._watcher is None:
            return
        thread, stop = self._watcher
        stop.set()
        thread.join(timeout)
        self._watcher = None

    def _wanted(self, change: Any, path: str) -> bool:
        rel = self._rel(path)
        return rel == "." or not _hidden(rel)

    def _watch(self, stop: threading.Event, ready: threading.Event, debounce: int, step: int):
        import watchfiles

        rescan = True
        while not stop.is_set():
            try:
                for changes in watchfiles.watch(
                    self.root,
                    watch_filter=self._wanted,
                    debounce=debounce,
                    step=step,
                    stop_event=stop,
                    rust_timeout=200,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                ):
                    if rescan:  # the watch is set up: catch up with anything before it
                        self.refresh()
                        rescan = False
                        ready.set()
                    if changes:
                        self.refresh(path for _, path in changes)
                    self.retry()
            except Exception:
                log.exception("following %s failed; starting again in 1 s", self.root)
                rescan = True
                stop.wait(1)
        ready.set()

    # -- writing -------------------------------------------------------------------------
    def _free_name(self, rec: ArticleRecord, taken: Iterable[str]) -> str:
        base = new_file_name(rec.primary_url, rec.title, rec.published_at)
        stem, ext = os.path.splitext(base)
        name, n = base, 1
        taken = set(taken)
        while name in taken or name in self._files or os.path.lexists(self._abs(name)):
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
            prepare_article(fm, body, f"input {i + 1}" if many else "input")
            for i, (fm, body) in enumerate(articles)
        ]
        owner: dict[str, int] = {}  # canonical URL -> input index, to catch duplicates
        for i, (_, rec) in enumerate(prepared):
            for u in rec.urls.values():
                j = owner.setdefault(canonical_url(u), i)
                if j != i:
                    raise WriteRefused(
                        f"inputs {j + 1} and {i + 1} describe the same article ({u}); send it once"
                    )
        with self.lock:
            lg = self.store.current
            writes: dict[str, bytes] = {}
            plans: list[tuple[ArticleRecord, list[str], bool]] = []
            claimed: dict[str, int] = {}  # existing article key -> input index
            for i, (data, rec) in enumerate(prepared):
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
                plans.append((rec, rels, created))
            change = self._commit(writes, ())
            graph = self.store.current
            items = [
                Written(graph.resolve(rec.primary_url) or canonical_url(rec.primary_url), rels, c)
                for rec, rels, c in plans
            ]
            return WriteResult(graph, change, items)

    def delete(self, url: str) -> WriteResult:
        """Remove the files of the article ``url`` names (only those) and apply it."""
        with self.lock:
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

    def _commit(self, writes: dict[str, bytes], deletes: Sequence[str]) -> Change | None:
        """Write and delete files, undoing all of it if one fails, then apply them."""
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
        updates: dict[str, FileState | None] = {}
        for rel, data in writes.items():
            rec, issues = parse_bytes(data, rel)
            new = FileState(sigs[rel], rec, issues, broken=rec is None)
            old = self._files.get(rel)
            if old is None or not old.same(new):
                updates[rel] = new
            else:
                old.sig = new.sig
        for rel in deletes:
            if rel in self._files:
                updates[rel] = None
        return self._apply(updates)

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
