"""Moving data in and out of the store: a folder in (:func:`import_folder`), files out
(:func:`export_files`).

Import stores every file of the folder as it is, bad ones included: a replica's graph
and ``loadReport`` are then exactly what a load of the folder gives. The whole import is
one transaction (one version, all or nothing); a re-run writes only the files whose
content changed and deletes the files no longer in the folder, and makes no version at
all when nothing changed.

Export writes each stored file's exact bytes at its path: the folder loads into the same
graph (every field, unknown keys, bodies, even the files with errors).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..files import list_files
from ..files.write import atomic_write
from ..records import parse_bytes
from ..records.article import LoadIssue
from .pg import PgStore, article_urls, sha256


@dataclass
class ImportReport:
    files: int = 0  # files in the folder
    written: int = 0  # new or changed in the store
    deleted: int = 0  # in the store but no longer in the folder
    unchanged: int = 0
    version: int | None = None  # the store version made, None when nothing changed
    skipped: list[LoadIssue] = field(default_factory=list)  # files that could not be stored


def _store_path(rel: str) -> str | None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return rel.replace(os.sep, "/")


def import_folder(
    pg: PgStore, folder: str | os.PathLike, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Make the store hold exactly the files of ``folder`` (see the module's docstring)."""
    folder = os.fspath(folder)
    report = ImportReport()
    contents: dict[str, bytes] = {}
    for path in list_files(folder):
        report.files += 1
        rel = os.path.relpath(path, folder)
        key = _store_path(rel)
        if key is None:
            report.skipped.append(
                LoadIssue(rel, None, "the file name is not UTF-8: not stored", "error")
            )
            continue
        try:
            with open(path, "rb") as fh:
                contents[key] = fh.read()
        except OSError as e:
            report.skipped.append(
                LoadIssue(rel, None, f"cannot read file: {e.strerror}: not stored")
            )
        if progress:
            progress(1)
    pg.migrate()
    with pg.writing() as txn:
        have = txn.checksums()
        for key, data in contents.items():
            _put_changed(txn, report, key, data, have)
        for key in have:
            if key not in contents:
                txn.delete(key)
                report.deleted += 1
    report.version = txn.committed
    return report


def import_paths(pg: PgStore, folder: str | os.PathLike, rels: Iterable[str]) -> ImportReport:
    """Bring these paths (relative to ``folder``; files or folders, present or gone) into
    the store, in one transaction: what ``import_folder`` does, for just these paths."""
    folder = os.fspath(folder)
    report = ImportReport()
    wanted: set[str] = set()
    prefixes: list[str] = []
    for rel in rels:
        rel = os.path.normpath(rel)
        if rel.startswith("..") or any(p.startswith(".") for p in rel.split(os.sep) if p):
            continue  # outside the folder, or hidden: loaders skip those too
        path = os.path.join(folder, rel)
        if rel == ".":
            return import_folder(pg, folder)
        if os.path.isdir(path):
            wanted.update(os.path.relpath(f, folder) for f in list_files(path))
            prefixes.append(rel.replace(os.sep, "/") + "/")
        else:
            wanted.add(rel)
            prefixes.append(rel.replace(os.sep, "/") + "/")  # a folder that went away
    with pg.writing() as txn:
        have = txn.checksums_of(sorted({_store_path(w) or "" for w in wanted}), prefixes)
        wanted.update(key.replace("/", os.sep) for key in have)  # gone from the folder?
        for rel in sorted(wanted):
            key = _store_path(rel)
            if key is None:
                report.skipped.append(
                    LoadIssue(rel, None, "the file name is not UTF-8: not stored")
                )
                continue
            try:
                with open(os.path.join(folder, rel), "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                if key in have:
                    txn.delete(key)
                    report.deleted += 1
                continue
            except OSError as e:
                report.skipped.append(LoadIssue(rel, None, f"cannot read file: {e.strerror}"))
                continue
            report.files += 1
            _put_changed(txn, report, key, data, have)
    report.version = txn.committed
    return report


def _put_changed(txn, report: ImportReport, key: str, data: bytes, have: dict) -> None:
    """Write ``data`` at ``key`` unless the store already holds exactly that."""
    if have.get(key) == sha256(data):
        report.unchanged += 1
        return
    rec, _ = parse_bytes(data, key)
    txn.put(key, data, article_urls(rec))
    report.written += 1


@dataclass
class ExportFilesReport:
    files: int = 0
    version: int = 0


def export_files(
    pg: PgStore, dest: str | os.PathLike, progress: Callable[[int], None] | None = None
) -> ExportFilesReport:
    """Write every stored file below ``dest`` (created; must be empty), at one version."""
    dest = os.path.abspath(dest)
    os.makedirs(dest, exist_ok=True)
    with os.scandir(dest) as entries:
        if any(True for _ in entries):
            raise FileExistsError(f"{dest} is not empty; export writes to an empty folder")
    report = ExportFilesReport()
    with pg.reading() as snap:
        report.version = snap.version
        for key, data in snap.files(progress):
            parts = key.split("/")
            if key.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"the store holds an unsafe path {key!r}; nothing more written")
            path = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, data, sync=False)
            report.files += 1
    os.sync()
    return report
