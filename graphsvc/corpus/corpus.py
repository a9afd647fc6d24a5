"""A corpus: the live graph of a source's articles, versions, deltas, snapshots, listeners.

:class:`Corpus` is the one object a server holds for its articles, whatever holds them
(a :class:`~graphsvc.corpus.source.Source`: a folder or a PostgreSQL store). It owns
the served graph (in a :class:`~graphsvc.graph.current.GraphStore`), the delta state it
is made with, its snapshot and the listeners of its versions. Every change, whatever
its source, goes through :meth:`Corpus.apply`: the next version is made copy-on-write
from the current one and swapped in whole, so a reader holding a version never sees
half an update; listeners hear each new version with the article URLs it added,
changed and removed.

Nothing here knows about GraphQL, files or databases.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from ..files import FolderRecords
from ..files.loader import paused_gc
from ..graph import LinkGraph, build_graph
from ..graph.current import GraphStore
from ..graph.delta import GraphState
from ..records.article import ArticleRecord, LoadIssue
from ..records.parse import load_repairs
from .articles import Articles
from .changes import Change, Loaded, WriteResult, diff
from .sigs import Sig
from .snapshots import SnapshotWriter
from .source import Source
from .versions import VersionJournal

#: The corpus modules' logger; its name is the one logging configurations already use.
log = logging.getLogger("graphsvc.live")


def log_to_stderr(level: str = "info") -> None:
    """Print what the corpus applies (one line per version) on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("graphsvc: %(message)s"))
    log.addHandler(handler)
    log.setLevel(getattr(logging, level.upper(), logging.DEBUG))
    log.propagate = False


class Corpus:
    """A source's articles as a live graph: versions, deltas, snapshots, listeners.

    * :meth:`load` has the source read everything (from the snapshot when valid).
    * :meth:`apply` is the one entry point for changes: records removed/added per
      source path, the next version (``version``: default current + 1; a source with
      its own numbers, such as a store's change log, passes them), published to
      :meth:`subscribe` listeners as a :class:`Change`. The source feeds it, following
      (:meth:`start_watching`) or writing (:meth:`upsert`, :meth:`delete`).
    * :meth:`save_snapshot` keeps the snapshot current (``snapshots``; None: no cache).

    With ``keep_state=False`` (a static server, ``validate``) the delta state is dropped
    after loading: the graph alone is served and nothing can be applied. ``journal``
    shares versions with other processes serving the same folder.
    """

    def __init__(
        self,
        source: Source,
        store: GraphStore | None = None,
        *,
        keep_state: bool = True,
        snapshots: SnapshotWriter | None = None,
        journal: VersionJournal | None = None,
    ):
        self.source = source
        self.store = store if store is not None else GraphStore()
        self.lock = threading.RLock()
        self.keep_state = keep_state
        self.snapshots = snapshots
        self.journal = journal
        #: Every source path the graph is made of, with its signature as last read.
        self.sigs: dict[str, Sig] = {}
        # Made by the load (or the first apply() of a corpus never loaded), not here: a
        # full disk fails the load, which is tried again, never the constructor.
        self.state: GraphState | None = None
        self.loaded: Loaded | None = None
        self._listeners: list[Callable[[Change], None]] = []
        # Apart from ``lock``: (un)subscribing from the event loop never waits for a change.
        self._listeners_lock = threading.Lock()
        source.attach(self)

    @property
    def root(self) -> str:
        """Where the articles live (a folder's real path, a store's redacted address)."""
        return self.source.where

    @property
    def graph(self) -> LinkGraph:
        """The version served now. None until the first load: typed as loaded, since
        only a wait for the load (which checks) reads it before then."""
        return cast(LinkGraph, self.store.current)

    @property
    def checks_versions(self) -> bool:
        """Whether writes may pass ``expected`` versions (a store's)."""
        return self.source.checks_versions

    @property
    def snapshot_path(self) -> Path | None:
        """Where the snapshot is kept (None: no snapshot)."""
        return self.snapshots.path if self.snapshots is not None else None

    # -- the source's work -----------------------------------------------------------
    def load(
        self,
        workers: int | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        on_files: Callable[[int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> Loaded:
        """Read everything (from the snapshot when valid) and serve the graph it makes.

        ``on_files(n)`` is told how many files there are before a full read parses them
        (to size a progress bar); ``progress(k)`` as they are parsed; ``on_phase(name)``
        as each later phase starts: ``graph`` (built from the records), ``snapshot``
        (written, or read back from the child that built it)."""
        loaded = self.source.load(workers, progress, on_files, on_phase)
        if self.keep_state:  # it will apply changes: none of them pays for an import
            load_repairs()
        return loaded

    def start_watching(self, **options: Any) -> None:
        """Follow the source's changes from the background until :meth:`stop_watching`."""
        self.source.follow(**options)

    def stop_watching(self, timeout: float = 10) -> None:
        """Stop following; the snapshot is written if anything changed."""
        self.source.stop(timeout)
        self.save_unsaved()

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Look for changes now (a folder: re-read ``paths``, default all) and apply them."""
        return self.source.refresh(paths)

    def upsert(self, articles: Articles, expected: list[int | None] | None = None) -> WriteResult:
        """Write each (front matter mapping, body) as an article; all or nothing; return
        once the graph shows them. ``expected``: see the source."""
        return self.source.upsert(articles, expected)

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """Remove the article ``url`` names and return once the graph shows it."""
        return self.source.delete(url, expected)

    # -- state ------------------------------------------------------------------------
    def new_state(self) -> GraphState:
        """An empty delta state; its database beside the snapshot when there is one."""
        folder = None
        path = self.snapshot_path
        if path is not None and writable(path.parent):
            folder = str(path.parent)
        return GraphState(folder)

    @property
    def delta_state(self) -> GraphState:
        """:attr:`state` of a corpus that takes changes (it has one once loaded)."""
        state = self.state
        assert state is not None, "a corpus served read-only has no delta state"
        return state

    def set_state(self, state: GraphState | None) -> None:
        """Use ``state`` (closing the one it replaces)."""
        if self.state is not None and self.state is not state:
            self.state.close()
        self.state = state

    def build(
        self,
        records: dict[str, ArticleRecord],
        issues: dict[str, list[LoadIssue]],
        sigs: dict[str, Sig],
    ) -> None:
        """Serve the graph of every record (a full read), as the next version."""
        old = self.store.current
        version = old.version + 1 if old else 1
        with paused_gc():
            if self.keep_state:
                state = self.new_state()
                self.set_state(state)
                try:
                    lg = state.apply(
                        None, records, issues, files=len(sigs), root=self.root, version=version
                    )
                except BaseException:  # e.g. a full disk: its file goes now, not at exit
                    self.set_state(None)
                    raise
            else:
                found = FolderRecords(root=self.root, files=len(sigs))
                found.records = [records[r] for r in sorted(records)]
                found.issues = [i for r in sorted(issues) for i in issues[r]]
                lg = build_graph(found, version=version)
                self.set_state(None)
        self.sigs = sigs
        self.mark_unsaved()
        self.store.swap(lg)

    def install(self, payload: Any) -> str | None:
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
        self.set_state(state if self.keep_state else None)
        self.sigs = dict(payload.get("sigs") or {})
        if self.snapshots is not None:
            self.snapshots.unsaved = False
        self.store.swap(lg)
        return None

    # -- snapshots ----------------------------------------------------------------------
    def mark_unsaved(self) -> None:
        """Versions were applied that the snapshot does not hold."""
        if self.snapshots is not None:
            self.snapshots.unsaved = True

    def snapshot_payload(self) -> dict[str, Any]:
        """What a snapshot holds (called under the lock)."""
        return {
            "graph": self.store.current,
            "state": self.state,
            "sigs": self.sigs,
            **self.source.snapshot_fields(),
        }

    def save_snapshot(self, background: bool = False, *, move: bool = False) -> None:
        """Write the snapshot of the current version (graph, delta state, signatures).

        Atomic (a temporary file renamed over the old one). With ``background`` it is
        written by a forked child, so the server keeps answering (see
        :class:`SnapshotWriter`)."""
        if self.snapshots is None or not self.snapshots.enabled:
            return
        with self.lock:
            self.snapshots.write(
                self.state, self.snapshot_payload, background=background, move=move
            )

    def maybe_snapshot(self) -> None:
        """Write the snapshot in the background when it is due (the follower calls this)."""
        if self.snapshots is not None and self.snapshots.due():
            try:
                self.save_snapshot(background=True)
            except Exception:  # noqa: BLE001 - serving goes on without a fresh snapshot
                log.exception("could not write the snapshot of %s", self.root)

    def save_unsaved(self) -> None:
        """Write the snapshot if anything changed since the last one (after any being
        written in the background)."""
        if self.snapshots is None:
            return
        self.snapshots.reap(wait=True)
        if self.snapshots.unsaved and self.state is not None:
            try:
                self.save_snapshot()
            except Exception:  # noqa: BLE001
                log.exception("could not write the snapshot of %s", self.root)

    def close(self) -> None:
        """At exit: stop following, write the snapshot if anything changed and remove
        the delta state's working file (``.graphsvc-state-*.sqlite``); the corpus takes
        no changes after. The app calls it at shutdown, before uvicorn ends the process
        with the SIGTERM it caught (no ``atexit`` then)."""
        self.stop_watching()
        # Not while a load or change holds the lock: its file is swept at the next start.
        if self.lock.acquire(blocking=False):
            try:
                self.set_state(None)
            finally:
                self.lock.release()

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

    def _publish(self, change: Change) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a listener must not stop the others, nor the change
                log.exception("graph change listener failed")

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
            state = self.state
            if state is None:
                if not self.keep_state or self.store.current is not None:
                    raise RuntimeError("this corpus is served read-only: it takes no changes")
                state = self.new_state()
                self.set_state(state)  # never loaded: this builds it
            old = self.store.current
            touched = [r for p in records if (r := state.records.get(p)) is not None]
            touched += [r for r in records.values() if r is not None]
            new = state.apply(
                old, records, issues, files=len(self.sigs), root=self.root, version=version
            )
            added, changed, removed = (
                diff(old, new, touched, state.last_touched) if old else ([], [], [])
            )
            paths = sorted(files) if files is not None else sorted({*records, *(issues or ())})
            change = Change(new.version, added, changed, removed, paths)
            self.mark_unsaved()
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
            self._publish(change)
            return change


def writable(folder: Path) -> bool:
    """Whether ``folder`` exists (made now if need be) and this process may write in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(folder, os.W_OK)
