"""Writing articles into a corpus folder, all or nothing.

Rules:

* Writes are atomic (:func:`~graphsvc.files.write.atomic_write`) and serialised by
  the corpus's lock. An upsert of an article that has files rewrites those files
  (every file that describes it, so the upsert is what the graph shows); a new article
  gets a new file named by :func:`~graphsvc.corpus.articles.new_file_name`. A delete
  removes only the article's own files. No other file is ever written.
* A batch of writes is all or nothing: when one write fails the ones before it are
  undone, and the graph is not touched; a crash in the middle is undone by the next
  listing of the folder (:mod:`graphsvc.files.journal`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from ..errors import UnknownURL, WriteFailed, WriteRefused
from ..files import fs, journal
from ..files.write import atomic_delete, atomic_write
from ..graph.urls import canonical_url
from ..records import parse_bytes
from ..records.article import ArticleRecord, LoadIssue
from .articles import Articles, as_file, check_batch, existing_article, input_name, new_file_name
from .articles import prepare_with_issues as prepare
from .changes import Change, WriteResult, Written
from .corpus import Corpus
from .sigs import sig, sig_of

log = logging.getLogger("graphsvc.live")

#: Per input: its file bytes, its record and the warnings of its parse.
Prepared = list[tuple[bytes, ArticleRecord, list[LoadIssue]]]


#: How a folder source adds a file's (record, issues) to a delta (FolderSource.stage).
Stage = Callable[[str, ArticleRecord | None, list[LoadIssue], dict, dict], None]


class FolderWriter:
    """Upserts and deletes of the articles in the folder ``root``, applied to ``corpus``.

    ``shared()`` holds the lock of versions shared with other processes (having applied
    theirs); ``stage`` adds a written file to a delta as the folder source does."""

    def __init__(
        self,
        root: str,
        corpus: Corpus,
        shared: Callable[[], AbstractContextManager[None]],
        stage: Stage,
    ):
        self.root = root
        self.corpus = corpus
        self.shared = shared
        self.stage = stage

    def abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def upsert(self, articles: Articles) -> WriteResult:
        """Write each (front matter mapping, body) as an article file; apply all of them
        as one version before returning. All or nothing."""
        check_batch(articles)
        many = len(articles) > 1
        prepared = [prepare(fm, body, input_name(i, many)) for i, (fm, body) in enumerate(articles)]
        owner: dict[str, int] = {}  # canonical URL -> input index, to catch duplicates
        for i, (_, rec, _) in enumerate(prepared):
            for u in rec.urls.values():
                j = owner.setdefault(canonical_url(u), i)
                if j != i:
                    raise WriteRefused(
                        f"inputs {j + 1} and {i + 1} describe the same article ({u}); send it once"
                    )
        corpus = self.corpus
        with corpus.lock, self.shared():
            writes: dict[str, bytes] = {}
            parsed: dict[str, tuple[ArticleRecord, list[LoadIssue]]] = {}
            plans = self._plan(prepared, many, writes, parsed)
            change = self._commit(writes, (), parsed)
            graph = corpus.graph
            items = [
                Written(graph.resolve(rec.primary_url) or canonical_url(rec.primary_url), rels, c)
                for rec, rels, c in plans
            ]
            return WriteResult(graph, change, items)

    def _plan(
        self, prepared: Prepared, many: bool, writes: dict, parsed: dict
    ) -> list[tuple[ArticleRecord, list[str], bool]]:
        """Which files each input writes (into ``writes`` and ``parsed``)."""
        lg = self.corpus.graph
        plans: list[tuple[ArticleRecord, list[str], bool]] = []
        claimed: dict[str, int] = {}  # existing article key -> input index
        for i, (data, rec, issues) in enumerate(prepared):
            where = input_name(i, many, the=True)
            doc = existing_article(lg, rec, where)
            if doc is not None:
                j = claimed.setdefault(doc, i)
                if j != i:
                    raise WriteRefused(
                        f"inputs {j + 1} and {i + 1} describe the same article ({doc}); "
                        "send it once"
                    )
                rels, created = list(lg.data(doc).sources), False
            else:
                rels, created = [self._free_name(rec, writes)], True
            for rel in rels:
                if rel in writes:
                    raise WriteRefused(f"{where} would rewrite {rel}, written by another input")
                writes[rel] = data
                parsed[rel] = as_file(rec, issues, rel)
            plans.append((rec, rels, created))
        return plans

    def delete(self, url: str) -> WriteResult:
        """Remove the files of the article ``url`` names (only those) and apply it."""
        corpus = self.corpus
        with corpus.lock, self.shared():
            lg = corpus.graph
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
            return WriteResult(corpus.graph, change, [Written(key, rels, False)])

    def _free_name(self, rec: ArticleRecord, taken: Iterable[str]) -> str:
        base = new_file_name(rec.primary_url, rec.title, rec.published_at)
        stem, ext = os.path.splitext(base)
        name, n = base, 1
        taken = set(taken)
        known = self.corpus.sigs
        while name in taken or name in known or os.path.lexists(self.abs(name)):
            n += 1
            name = f"{stem}-{n}{ext}"
        return name

    def _commit(
        self,
        writes: dict[str, bytes],
        deletes: Sequence[str],
        parsed: dict[str, tuple[ArticleRecord, list[LoadIssue]]] | None = None,
    ) -> Change | None:
        """Write and delete files, undoing all of it if one fails, then apply them.
        ``parsed``: what parsing a written file gives, when the caller has it."""
        root = self.root
        done: list[tuple[str, bytes | None]] = []  # (rel, content before) to undo
        sigs: dict[str, tuple | None] = {}
        rel, before = "", None
        batch = None
        try:
            befores: dict[str, bytes | None] = {}  # what the batch changes, and its old bytes
            for rel, data in writes.items():
                before = fs.read_existing(root, rel)  # refuses a symlink
                if before == data:
                    sigs[rel] = sig(self.abs(rel))
                else:
                    befores[rel] = before
            for rel in deletes:
                before = fs.read_existing(root, rel)
                if before is not None:
                    befores[rel] = before
            # A journal of the old contents first: a crash in the middle is undone on load.
            rel, before = journal.JOURNAL, None
            with journal.Batch(root, befores) as batch:
                for rel, before in befores.items():
                    path = self.abs(rel)
                    if rel in writes:
                        sigs[rel] = sig_of(atomic_write(path, writes[rel], root=root))
                    else:
                        atomic_delete(path, root=root)
                    done.append((rel, before))
                    batch.step()
                batch.done()
        except OSError as e:
            raise self._failed(e, rel, before, done, batch, deletes) from None
        return self._apply(writes, deletes, parsed, sigs)

    def _failed(self, e: OSError, rel: str, before, done, batch, deletes) -> WriteFailed:
        """Undo a batch that failed at ``rel``; the error to raise."""
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
        return WriteFailed(msg)

    def _apply(self, writes, deletes, parsed, sigs) -> Change | None:
        """Apply written and deleted files to the corpus."""
        corpus, stage = self.corpus, self.stage
        records: dict[str, ArticleRecord | None] = {}
        found: dict[str, list[LoadIssue]] = {}
        for rel, data in writes.items():
            rec, issues = parsed[rel] if parsed and rel in parsed else parse_bytes(data, rel)
            corpus.sigs[rel] = sigs[rel]
            stage(rel, rec, issues, records, found)
        for rel in deletes:
            if corpus.sigs.pop(rel, False) is not False:
                stage(rel, None, [], records, found)
        return corpus.apply(records, found, files=[*writes, *deletes])

    def _undo(self, done: list[tuple[str, bytes | None]]) -> list[str]:
        failed = []
        root = self.root
        for rel, before in reversed(done):
            try:
                if before is None:
                    atomic_delete(self.abs(rel), root=root)
                else:
                    atomic_write(self.abs(rel), before, root=root)
            except OSError:
                log.exception("could not undo the write of %s", rel)
                failed.append(rel)
        return failed
