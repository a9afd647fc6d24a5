"""Folder -> served graph, for callers that want a graph and nothing else.

A thin front of :func:`graphsvc.corpus.folder_corpus`, the one path from a folder to
a served graph: snapshot when valid (files changed since are read again and applied),
else a cold load that writes one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .corpus import Loaded, folder_corpus

__all__ = ["Loaded", "default_corpus", "load_graph"]


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
    """Load ``folder``'s graph: static (no delta state kept, nothing can be applied)
    unless ``live``; from its snapshot when ``cache`` and it is valid."""
    if not Path(folder).is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    corpus = folder_corpus(folder, load=False, cache=cache, cache_dir=cache_dir, keep_state=live)
    return corpus.load(workers, progress=progress, on_files=on_files)


def default_corpus() -> Path:
    """The seed articles: shipped inside the package, or the repo's ``seeds/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_seeds", here.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise SystemExit("graphsvc: no default corpus found; give a folder: graphsvc serve DIR")
