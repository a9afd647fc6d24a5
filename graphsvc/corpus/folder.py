"""A corpus folder as a :class:`~graphsvc.corpus.source.Source`: load, follow, re-read.

Rules:

* A file that stops parsing keeps serving its last good version; the error (and a
  warning saying the old version is served) is in the load report until it is fixed.
* Every path goes through :mod:`graphsvc.files.fs`: nothing outside the folder's real
  path is read, written or removed, symlinks are never followed, only regular files
  are read. A read that failed (EMFILE, EIO, ...) is tried again (:meth:`retry`).
* Writes are :class:`~graphsvc.corpus.folder_writer.FolderWriter`'s.

:func:`folder_corpus` makes the :class:`~graphsvc.corpus.corpus.Corpus` of a folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import snapshot
from ..errors import WriteRefused
from ..files import fs, journal, load_corpus, read_file
from ..files.loader import READ_FAILED, list_folder, paused_gc
from ..files.watch import poll_interval_ms
from ..files.write import TMP_SUFFIX
from ..graph.current import GraphStore
from ..records.article import ArticleRecord, LoadIssue
from .articles import Articles
from .changes import Change, Loaded, WriteResult
from .coldload import ISOLATE_MIN_FILES, ChildLoad
from .corpus import Corpus, writable
from .folder_writer import FolderWriter
from .sigs import sig, sig_of
from .snapshots import SNAPSHOT_INTERVAL, SnapshotWriter
from .versions import VersionJournal
from .watcher import DEBOUNCE_MS, STEP_MS, FolderWatcher

log = logging.getLogger("graphsvc.live")

#: Temporary files of an atomic write older than this were left by a crash: removed on load.
STALE_TMP_SECONDS = 3600
#: A file that could not be read (EMFILE, EIO, ...) is read again after this long.
RETRY_SECONDS = 1.0


def folder_corpus(
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
) -> Corpus:
    """The corpus of the folder ``root``, read now or, with ``load=False``, when
    :meth:`Corpus.load` is called. ``cache``: keep a snapshot (in ``cache_dir``);
    ``shared``: several processes serve this folder and share versions."""
    # The real path: file system events name real paths, whatever symlinks led here.
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        raise NotADirectoryError(f"corpus folder not found: {root}")
    snapshots = None
    if cache:
        # The code's fingerprint (part of every snapshot's key) is taken now, from the
        # code this process runs, so the children it forks (a cold load, snapshot
        # writers) key their snapshots as it reads them, even if the files on disk
        # change meanwhile (an upgrade while serving).
        snapshot.code_fingerprint()
        path = snapshot.snapshot_path(real, cache_dir)
        snapshots = SnapshotWriter(path, lambda: snapshot.Key(real), snapshot_interval, real)
    versions = VersionJournal(snapshot.snapshot_path(real, cache_dir)) if shared else None
    corpus = Corpus(
        FolderSource(real), store, keep_state=keep_state, snapshots=snapshots, journal=versions
    )
    if load:
        corpus.load(workers)
    return corpus


def sweep(root: str) -> None:
    """Remove temporary files a killed writer left in ``root`` (hidden, ours by name, old)."""
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    if now - os.lstat(path).st_mtime > STALE_TMP_SECONDS:
                        fs.delete(root, os.path.relpath(path, root))
                        log.info("removed %s, left by an interrupted write", path)


def _quiet(phase: str) -> None:
    """No one is told of the load's phases."""


def read_all(root: str, paths: list[str], workers, progress) -> tuple[dict, dict]:
    """Read every file of ``paths``: ({path: record}, {path: issues})."""
    with paused_gc():
        found = load_corpus(root, workers, progress=progress, paths=paths)
    records = {r.path: r for r in found.records}
    issues: dict[str, list[LoadIssue]] = {}
    for issue in found.issues:
        issues.setdefault(issue.path, []).append(issue)
    return records, issues


def _read_failed(issues: list[LoadIssue]) -> bool:
    return any(i.message.startswith(READ_FAILED) for i in issues)


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split(os.sep) if part)


class FolderSource:
    """A corpus folder: loads it (from the snapshot when valid), follows it, re-reads the
    files that changed and applies them to its corpus; writes through its
    :class:`FolderWriter`.

    The snapshot is used when it is valid (same corpus folder, same graphsvc and code,
    intact) and then only the files whose signature (inode, size, mtime, ctime) changed
    since are re-read, applied as one delta; else every file is read (cold), and a
    snapshot written.
    """

    checks_versions = False

    def __init__(self, root: str):
        self.where = self.root = root
        self.corpus: Corpus = None  # type: ignore[assignment]  # set by attach()
        # The load report's warnings about a write journal, as the last listing found them.
        self._journal_issues: list[LoadIssue] = []
        # Files whose read failed, and whether a listing failed: tried again (retry()).
        self._retry: set[str] = set()
        self._rescan = False
        self._retry_at = 0.0
        self._watcher: FolderWatcher | None = None
        self.writer: FolderWriter = None  # type: ignore[assignment]  # set by attach()

    def attach(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.writer = FolderWriter(self.root, corpus, self.shared, self.stage)

    def rel(self, path: str) -> str:
        """``path`` relative to the folder."""
        return os.path.relpath(path, self.root)

    def abs(self, rel: str) -> str:
        """The path of ``rel`` (relative to the folder)."""
        return os.path.join(self.root, rel)

    def snapshot_fields(self) -> dict[str, Any]:
        return {}

    # -- loading ---------------------------------------------------------------------
    def load(
        self,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_files: Callable[[int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> Loaded:
        """Read the folder (from its snapshot when valid) and serve the graph it makes."""
        t0 = time.perf_counter()
        sweep(self.root)
        paths, self._journal_issues = list_folder(self.root)
        # Stat before reading: a file changed during the load has a newer signature than
        # the one kept, so the first rescan reads it again.
        sigs = {self.rel(p): sig(p) for p in paths}
        corpus = self.corpus
        with corpus.lock, self.shared(catch_up=False):
            done = self._load(t0, paths, sigs, workers, progress, on_files, on_phase or _quiet)
            versions = corpus.journal
            if versions is not None:  # the shared version: where the journal is
                lines = versions.new_lines()
                last = max([versions.last, *(v for v, _ in lines)])
                versions.last = last
                if last > corpus.graph.version:
                    corpus.graph.version = last  # not served yet (/readyz waits for load)
            return done

    def _load(self, t0, paths, sigs, workers, progress, on_files, on_phase) -> Loaded:
        corpus, snap = self.corpus, self.corpus.snapshots
        note = None
        if snap is not None:
            try:
                note = corpus.install(snapshot.load(snap.known_path(), snap.key()))
            except snapshot.Rejected as e:
                note = str(e)
            if note is None:
                reread = self._catch_up(sigs)
                if reread is not None:
                    return self._loaded(t0, "snapshot", None, reread)
                note = "files changed since a snapshot written without delta state"
        if on_files:
            on_files(len(paths))
        if snap and len(paths) >= ISOLATE_MIN_FILES and writable(snap.known_path().parent):
            why = self._cold_in_child(paths, sigs, workers, progress, on_phase)
            if why is None:
                if not corpus.keep_state:
                    corpus.set_state(None)
                return self._loaded(t0, "files", note)
            note = f"{note}; {why}"
        self._cold(paths, sigs, workers, progress, on_phase)
        if snap is not None:
            on_phase("snapshot")
            try:
                corpus.save_snapshot()
            except (OSError, pickle.PicklingError, TypeError, RecursionError) as e:
                # A read-only cache, a full disk or something unpicklable: serve anyway.
                note = f"{note}; no snapshot written: {e}"
        if not corpus.keep_state:
            corpus.set_state(None)
        return self._loaded(t0, "files", note)

    def _loaded(self, t0: float, source: str, note: str | None, reread: int = 0) -> Loaded:
        corpus = self.corpus
        done = Loaded(time.perf_counter() - t0, source, note, corpus.snapshot_path, reread)
        done._graph = corpus.store.current
        corpus.loaded = done
        return done

    def _cold(self, paths: list[str], sigs: dict, workers, progress, on_phase) -> None:
        """Read every file and serve the graph they make (the delta state with it)."""
        records, issues = read_all(self.root, paths, workers, progress)
        on_phase("graph")
        if self._journal_issues:
            issues[journal.JOURNAL] = list(self._journal_issues)
        self._retry = set()
        for rel, found in issues.items():
            if _read_failed(found):
                sigs[rel] = None  # read again: the failure may pass
                self._retry.add(rel)
        self.corpus.build(records, issues, sigs)

    def _cold_in_child(self, paths, sigs, workers, progress, on_phase) -> str | None:
        """Cold-load in a forked child that writes the snapshot, then read it here.
        None when that worked, else why not."""
        corpus, snap = self.corpus, self.corpus.snapshots
        assert snap is not None  # a child writes the snapshot: only with one

        def build(send: Callable[[int | str], None]) -> None:
            self._cold(paths, sigs, workers, send, send)
            send("snapshot")
            snap.write(corpus.state, corpus.snapshot_payload, move=True)  # state not used again

        def cleanup() -> None:
            if corpus.state is not None:
                corpus.state.close()

        why = ChildLoad(build, cleanup).run(progress, on_phase)
        if why is not None:
            return why
        try:
            why = corpus.install(snapshot.load(snap.known_path(), snap.key()))
        except snapshot.Rejected as e:
            why = str(e)
        return None if why is None else f"the fresh snapshot was not usable ({why})"

    def _catch_up(self, sigs: dict) -> int | None:
        """Re-read the files whose signature differs from the one the graph was made of;
        how many. None when some did and the snapshot has no state to apply them to."""
        known = self.corpus.sigs
        changed = {r for r in known if r not in sigs}
        changed |= {r for r, s in sigs.items() if s is None or known.get(r) != s}
        found = self._journal_found()
        if not changed and not found:
            return 0
        if self.corpus.state is None:  # a static snapshot cannot take deltas
            return None
        # Shared: the journal's lines cover these changes; the version is set after.
        version = self.corpus.graph.version if self.corpus.journal else None
        self._refresh_rels(changed, version=version, found=found)
        return len(changed)

    def _journal_found(self) -> dict[str, list[LoadIssue]]:
        """``{journal: its warnings}`` when the load report says otherwise: a listing met
        a malformed write journal, or the snapshot's report names one that is gone."""
        state = self.corpus.state
        if state is not None:
            shown = state.file_issues.get(journal.JOURNAL, [])
        else:
            lg = self.corpus.graph
            shown = [i for i in lg.issues if i.path == journal.JOURNAL] if lg else []
        now = self._journal_issues
        return {} if shown == now else {journal.JOURNAL: list(now)}

    # -- versions shared with other processes ----------------------------------------------
    @contextlib.contextmanager
    def shared(self, catch_up: bool = True) -> Iterator[None]:
        """With a version journal: hold its lock, having applied the versions others made."""
        versions = self.corpus.journal
        if versions is None:
            yield
            return
        with versions.locked():
            if catch_up:
                self.follow_journal()
            yield

    def follow_journal(self) -> int:
        """Apply the journal's new lines (other processes' versions); how many."""
        corpus = self.corpus
        if corpus.journal is None or corpus.state is None:
            return 0
        n = 0
        with corpus.lock:
            for v, paths in corpus.journal.new_lines():
                corpus.journal.last = max(corpus.journal.last, v)
                if v <= corpus.graph.version:
                    continue
                self._refresh_rels(paths, version=v, force=True)
                n += 1
        return n

    # -- re-reading ------------------------------------------------------------------------
    def _expand(self, paths: Iterable[str]) -> set[str] | None:
        """Relative paths to re-read for these changed paths; None means rescan all."""
        rels: set[str] = set()
        known = self.corpus.sigs
        for p in paths:
            rel = self.rel(os.path.abspath(p))
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
            if st is None and rel not in known:
                # Gone and not a file we know: perhaps a folder moved out or removed, and
                # its files with it. (Not for a file: this looks at every file's path.)
                prefix = rel + os.sep
                rels.update(r for r in known if r.startswith(prefix))
        return rels

    def _scan(self) -> set[str]:
        """Files that appeared, vanished or whose signature changed."""
        paths, problems = list_folder(self.root)
        if problems:  # a journal met now: its warnings stay until the next load
            self._journal_issues = problems
        known = self.corpus.sigs
        present = {self.rel(p): p for p in paths}
        rels = {r for r in known if r not in present}
        for rel, path in present.items():
            last = known.get(rel)
            if last is None or last != sig(path):
                rels.add(rel)
        return rels

    def _file_update(self, rel: str, new_sig, rec: ArticleRecord | None, issues: list[LoadIssue]):
        """(record, issues) the graph should use for a file read as ``rec``, ``issues``:
        a file that stops parsing keeps serving its last good record, with a warning."""
        last = self.corpus.delta_state.records.get(rel)
        self.corpus.sigs[rel] = new_sig
        if rec is None and last is not None:
            note = LoadIssue(
                rel, None, "the file does not load; its last good version is served", "warning"
            )
            return last, [*issues, note]
        return rec, issues

    def stage(self, rel, rec, issues, records: dict, found: dict) -> None:
        """Add a file's new (record, issues) to a delta if they differ from the graph's."""
        state = self.corpus.delta_state
        if rec != state.records.get(rel):
            records[rel] = rec
        if issues != state.file_issues.get(rel, []):
            found[rel] = issues

    def _reread(self, rel: str) -> tuple[bool, Any, Any, list[LoadIssue]]:
        """Read ``rel`` again: (gone, signature, record, issues); skipped (sig is
        ``False``) when its signature is as last read."""
        try:
            entry = fs.lstat(self.root, rel)
        except OSError as e:
            return False, None, None, [LoadIssue(rel, None, f"{READ_FAILED}: {e.strerror or e}")]
        if entry is None or stat.S_ISDIR(entry.st_mode):
            return True, None, None, []
        new_sig = sig_of(entry)
        if new_sig == self.corpus.sigs.get(rel) and rel not in self._retry:
            return False, False, None, []  # as last read or written here (a write's own event)
        rec, issues = read_file(self.abs(rel), self.root)
        return False, new_sig, rec, issues

    def _refresh_rels(
        self,
        rels: Iterable[str],
        version: int | None = None,
        force: bool = False,
        found: dict[str, list[LoadIssue]] | None = None,
    ) -> Change | None:
        """Re-read ``rels`` and apply what changed; ``found``: issues to set besides."""
        corpus = self.corpus
        records: dict[str, ArticleRecord | None] = {}
        found = dict(found or {})
        files = set()
        for rel in sorted(rels):
            gone, new_sig, rec, issues = self._reread(rel)
            if gone:
                self._retry.discard(rel)
                if rel in corpus.sigs:
                    del corpus.sigs[rel]
                    files.add(rel)
                    self.stage(rel, None, [], records, found)
                continue
            if new_sig is False:
                continue
            if _read_failed(issues):
                if rel not in self._retry:
                    log.warning("%s; reading it again every %g s", issues[0], RETRY_SECONDS)
                new_sig = None  # not read: a rescan reads it again
                self._retry.add(rel)
            else:
                self._retry.discard(rel)
            new_file = rel not in corpus.sigs
            rec, issues = self._file_update(rel, new_sig, rec, issues)
            self.stage(rel, rec, issues, records, found)
            if new_file or rel in records or rel in found:
                files.add(rel)
        if not files and not found and not force:
            return None
        if not records and not found and files:  # a file came or went that gives nothing
            found = {rel: corpus.delta_state.file_issues.get(rel, []) for rel in files}
        if version is not None and version <= corpus.graph.version and not force:
            version = None if not corpus.journal else corpus.graph.version
        return corpus.apply(records, found, files=files, version=version, force=force)

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Re-read ``paths`` (absolute or relative to the root; default: rescan the whole
        folder) and apply what changed as one new version. None when nothing did."""
        with self.corpus.lock, self.shared():
            try:
                rels = (
                    None
                    if paths is None
                    else self._expand(p if os.path.isabs(p) else self.abs(p) for p in paths)
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

    # -- following ------------------------------------------------------------------------
    def follow(
        self, debounce_ms: int = DEBOUNCE_MS, step_ms: int = STEP_MS, ready_timeout: float = 10
    ) -> None:
        """Follow the folder from a background thread until :meth:`stop`.

        Returns once the watcher is set up and has caught up with changes made before.
        """
        if self._watcher is not None:
            return
        corpus = self.corpus

        def tick() -> None:
            self.retry()
            self.follow_journal()
            corpus.maybe_snapshot()

        self._watcher = FolderWatcher(
            self.root,
            on_fresh=self.refresh,
            on_changes=self.refresh,
            on_tick=tick,
            wanted=self._wanted,
            poll_ms=lambda: poll_interval_ms(len(corpus.sigs)),
            timeout_ms=100 if corpus.journal else 200,
            debounce_ms=debounce_ms,
            step_ms=step_ms,
        )
        self._watcher.start(ready_timeout)

    def stop(self, timeout: float = 10) -> None:
        """Stop following the folder."""
        if self._watcher is None:
            return
        self._watcher.stop(timeout)
        self._watcher = None

    def _wanted(self, change: Any, path: str) -> bool:
        rel = self.rel(path)
        return rel == "." or not _hidden(rel)

    # -- writing ---------------------------------------------------------------------------
    def upsert(self, articles: Articles, expected: list[int | None] | None = None) -> WriteResult:
        """See :meth:`FolderWriter.upsert`; a folder keeps no versions to check."""
        _no_expected(expected)
        return self.writer.upsert(articles)

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """See :meth:`FolderWriter.delete`; a folder keeps no versions to check."""
        _no_expected([expected])
        return self.writer.delete(url)


def _no_expected(expected: list[int | None] | None) -> None:
    if expected and any(v is not None for v in expected):
        raise WriteRefused("expectedVersion needs a server backed by a store (serve --store)")
