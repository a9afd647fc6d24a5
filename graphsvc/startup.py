"""Folder -> served graph, for callers that want a graph and nothing else.

A thin front of :func:`graphsvc.corpus.folder_corpus`, the one path from a folder to
a served graph: snapshot when valid (files changed since are read again and applied),
else a cold load that writes one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .corpus import Corpus, Loaded, folder_corpus

__all__ = ["Loaded", "default_corpus", "load_graph", "open_corpus"]


def open_corpus(
    folder: str | os.PathLike,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    workers: int | None = None,
    live: bool = True,
    progress: Callable[[int], None] | None = None,
    on_files: Callable[[int], None] | None = None,
    store=None,
) -> Corpus:
    """The corpus object of ``folder``, loaded. ``live=False``: a static graph (no delta
    state kept, nothing can be applied)."""
    corpus = folder_corpus(
        folder, store=store, load=False, cache=cache, cache_dir=cache_dir, keep_state=live
    )
    corpus.load(workers, progress=progress, on_files=on_files)
    return corpus


def load_graph(
    folder: str | os.PathLike,
    *,
    cache: bool = True,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_files: Callable[[int], None] | None = None,
    live: bool = False,
) -> Loaded:
    """Load ``folder``'s graph (static unless ``live``); see :func:`open_corpus`."""
    if not Path(folder).is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    corpus = open_corpus(
        folder,
        cache=cache,
        cache_dir=cache_dir,
        workers=workers,
        live=live,
        progress=progress,
        on_files=on_files,
    )
    return corpus.loaded


def default_corpus() -> Path:
    """The seed articles: shipped inside the package, or the repo's ``seeds/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_seeds", here.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise SystemExit("graphsvc: no default corpus found; give a folder: graphsvc serve DIR")
