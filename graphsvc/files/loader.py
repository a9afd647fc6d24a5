"""Read a corpus folder into records, in parallel when it is large."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..records.article import ArticleRecord, LoadIssue
from ..records.parse import MAX_FILE_BYTES, parse_bytes
from . import fs, journal

#: Below this many files one process is faster than starting a pool.
PARALLEL_MIN_FILES = 2000
#: How the message of a file that could not be read starts (the read is retried).
READ_FAILED = "cannot read file"


@dataclass
class FolderRecords:
    """What reading a folder gave: records in path order, and every problem seen."""

    root: str
    records: list[ArticleRecord] = field(default_factory=list)
    issues: list[LoadIssue] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[LoadIssue]:
        return [i for i in self.issues if i.severity == "error"]


def list_files(root: str | os.PathLike, sub: str = "") -> list[str]:
    """Every entry below ``root`` (or its sub-folder ``sub``) but folders, sorted,
    skipping hidden files and folders; symlinks are entries, never walked
    (:func:`graphsvc.files.fs.entries`). Listing the whole folder first undoes a
    write batch that a crash interrupted (:func:`list_folder`)."""
    if not sub:
        return list_folder(root)[0]
    return [os.path.join(os.fspath(root), rel) for rel in fs.entries(root, sub)]


def list_folder(root: str | os.PathLike) -> tuple[list[str], list[LoadIssue]]:
    """:func:`list_files` of the whole folder, and the load report's warnings about the
    journal of a write batch a crash interrupted, which is undone first
    (:func:`graphsvc.files.journal.recover`; none when there was none)."""
    root = os.fspath(root)
    problems = journal.recover(root)
    return [os.path.join(root, rel) for rel in fs.entries(root)], problems


def read_file(path: str, root: str) -> tuple[ArticleRecord | None, list[LoadIssue]]:
    """Parse one file; ``path`` in records and issues is relative to ``root``.

    Only a regular file below ``root``, reached without a symlink, is read, and at most
    :data:`~graphsvc.records.parse.MAX_FILE_BYTES` plus one byte of it; anything else is
    one issue (:mod:`graphsvc.files.fs`). A failed read is an error that starts with
    :data:`READ_FAILED`.
    """
    rel = os.path.relpath(path, root)
    try:
        raw = fs.read(root, rel, MAX_FILE_BYTES)
    except fs.Skipped as e:
        return None, [LoadIssue(rel, None, str(e), e.severity)]
    except OSError as e:
        return None, [LoadIssue(rel, None, f"{READ_FAILED}: {e.strerror or e}")]
    try:
        return parse_bytes(raw, rel)
    except (RecursionError, MemoryError):
        return None, [LoadIssue(rel, None, "front matter is nested too deeply to read")]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: loading makes millions of objects that live on.

    Each collection would walk all of them again, which made loading 2-3 times slower;
    reference counting still frees what loading drops.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_chunk(args: tuple[list[str], str]) -> list[tuple[ArticleRecord | None, list[LoadIssue]]]:
    paths, root = args
    with paused_gc():
        return [read_file(p, root) for p in paths]


def chunk_size(files: int, workers: int) -> int:
    """Files per task: about 16 tasks per worker so all finish together, 50-1000 each."""
    return max(50, min(1000, files // (workers * 16) or 1))


def read_files(
    paths: list[str],
    root: str,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterable[tuple[ArticleRecord | None, list[LoadIssue]]]:
    """Parse ``paths``, yielding results in the same order."""
    if workers is None:
        workers = os.cpu_count() or 1
    if workers <= 1 or len(paths) < PARALLEL_MIN_FILES:
        for p in paths:
            yield read_file(p, root)
            if progress:
                progress(1)
        return
    size = chunk_size(len(paths), workers)
    chunks = [(paths[i : i + size], root) for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for results in pool.map(_read_chunk, chunks):
            yield from results
            if progress:
                progress(len(results))


def load_corpus(
    root: str | os.PathLike,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    paths: list[str] | None = None,
) -> FolderRecords:
    """Read every file below ``root`` (or just ``paths``, as :func:`list_files` gives them).

    A bad file is reported, never fatal. Large corpora are parsed by ``workers``
    processes (default: one per core); ``progress(n)`` is told as files are done.
    """
    root = str(root)
    if not Path(root).is_dir():
        raise NotADirectoryError(f"corpus folder not found: {root}")
    problems: list[LoadIssue] = []
    if paths is None:
        paths, problems = list_folder(root)
    corpus = FolderRecords(root=root, files=len(paths), issues=problems)
    with paused_gc():
        for rec, issues in read_files(paths, root, workers, progress):
            corpus.issues.extend(issues)
            if rec is not None:
                corpus.records.append(rec)
    return corpus
