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
    with paused_gc():
        corpus = load_corpus(root, workers=workers, progress=progress, paths=paths)
        lg = build_graph(corpus)
    if cache:
        try:
            snapshot.save(path, key, lg)
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
            # A read-only cache, a full disk or something unpicklable: serve anyway.
            note = f"{note}; no snapshot written: {e}"
            path = None
    return Loaded(lg, time.perf_counter() - t0, "files", note, path)
