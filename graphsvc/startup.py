"""Folder -> served graph: a snapshot when one matches, else a cold load that writes one."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import snapshot
from .graph import LinkGraph, build_graph
from .ingest.loader import list_files, load_corpus, paused_gc


@dataclass(slots=True)
class Loaded:
    graph: LinkGraph
    seconds: float
    source: str  # "snapshot" or "files"
    note: str | None = None  # why no snapshot was used, or why none was written
    snapshot: Path | None = None


def load_graph(
    folder: str | os.PathLike,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_files: Callable[[int], None] | None = None,
) -> Loaded:
    """Load ``folder``'s graph, from its snapshot when that is still good.

    ``on_files(n)`` is told how many files there are before parsing starts (to size a
    progress bar); ``progress(k)`` as they are parsed.
    """
    t0 = time.perf_counter()
    root = str(folder)
    if not Path(root).is_dir():
        raise NotADirectoryError(f"corpus folder not found: {root}")
    paths = list_files(root)
    note = None
    path = key = None
    if cache:
        path = snapshot.snapshot_path(root, cache_dir)
        key = snapshot.Key.of(root, paths)
        try:
            lg = snapshot.load(path, key)
        except snapshot.Rejected as e:
            note = str(e)
        else:
            return Loaded(lg, time.perf_counter() - t0, "snapshot", None, path)
    if on_files:
        on_files(len(paths))
    if cache and len(paths) >= ISOLATE_MIN_FILES and _writable(path.parent):
        lg, why = _cold_in_child(root, paths, key, path, workers, progress)
        if lg is not None:
            return Loaded(lg, time.perf_counter() - t0, "files", note, path)
        note = f"{note}; {why}"
    lg = _cold(root, paths, workers, progress)
    if cache:
        try:
            snapshot.save(path, key, lg)
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
            # A read-only cache, a full disk or something unpicklable: serve anyway.
            note = f"{note}; no snapshot written: {e}"
            path = None
    return Loaded(lg, time.perf_counter() - t0, "files", note, path)


#: From this many files on, a cold load runs in a child process that writes the
#: snapshot, and this process reads the snapshot: a graph unpickled in one go sits in
#: about 40% less memory than one built among all the records it was built from.
ISOLATE_MIN_FILES = 20_000


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _cold(root: str, paths: list[str], workers, progress) -> LinkGraph:
    with paused_gc():
        corpus = load_corpus(root, workers=workers, progress=progress, paths=paths)
        return build_graph(corpus)


def _child(conn, root, paths, key, path, workers) -> None:
    try:
        lg = _cold(root, paths, workers, conn.send)
        snapshot.save(path, key, lg)
        conn.send(("done", None))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which loads itself
        conn.send(("failed", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _cold_in_child(root, paths, key, path, workers, progress) -> tuple[LinkGraph | None, str]:
    """Cold-load in a forked child that writes the snapshot; read it here."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:  # no fork on this platform
        return None, "no fork"
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, root, paths, key, path, workers))
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
        return None, f"loading in a child process failed ({outcome[1]}); loaded here instead"
    try:
        return snapshot.load(path, key), ""
    except snapshot.Rejected as e:
        return None, f"the fresh snapshot was not usable ({e}); loaded here instead"
