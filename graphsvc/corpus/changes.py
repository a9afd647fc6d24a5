"""What a corpus reports: the changes it applies, how it loaded, what a write did.

:class:`Change` is what listeners hear for each new version; :func:`diff` finds the
article URLs a change added, changed and removed; :class:`Loaded` says how a load got
its graph; :class:`WriteResult` (with a :class:`Written` per article) is what an upsert
or a delete returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..graph.adjacency import node_attrs, successors
from ..graph.model import LinkGraph
from ..records.article import ArticleRecord


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
    """One article a write touched."""

    url: str  # the article's key in the graph after the write
    paths: list[str]  # files written (or removed), relative to the corpus folder
    created: bool  # a new file was made for a new article


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What an upsert or a delete did, and the graph version that shows it."""

    graph: LinkGraph  # the version that shows the write (the current one if it was a no-op)
    change: Change | None  # None when the files already said exactly this
    items: list[Written]

    @property
    def version(self) -> int:
        return self.graph.version


@dataclass(slots=True)
class Loaded:
    """How :meth:`Corpus.load <graphsvc.corpus.Corpus.load>` got its graph."""

    seconds: float
    source: str  # "snapshot" or "files" (a folder); "snapshot+log" or "store" (a store)
    note: str | None = None  # why no snapshot was used, or why none was written
    snapshot: Path | None = None
    reread: int = 0  # files read again after a snapshot (a store: versions replayed)

    @property
    def graph(self) -> LinkGraph:  # filled in by load()
        return self._graph

    _graph: Any = None


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
        old_set, new_set = set(old.article_keys()), set(new.article_keys())
        added, removed = new_set - old_set, old_set - new_set
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
