"""The commands on a PostgreSQL store: ``import`` (``--watch``), ``export --store`` and
``store prune``."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..loading import load_static_graph, print_report, progress_bar


def store_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``fn``, with the store's errors printed as one line and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        from ..errors import StoreError, StoreUnavailable

        try:
            return fn(args)
        except (StoreError, StoreUnavailable) as e:
            print(f"graphsvc: {e}", file=sys.stderr)
            return 2

    return run


def _store(args: argparse.Namespace):
    from ..server import open_store

    return open_store(Config.from_args(args))


@store_errors
def cmd_import(args: argparse.Namespace) -> int:
    from ..store.transfer import import_folder

    folder = Path(args.dir)
    if not folder.is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    pg = _store(args)
    # Validated exactly as `graphsvc validate` does, with the same report.
    status = print_report(load_static_graph(folder, Config.from_args(args), quiet=True))
    t0 = time.perf_counter()
    with progress_bar("importing", None) as advance:
        report = import_folder(pg, folder, progress=advance)
    for issue in report.skipped:
        print(f"graphsvc: {issue}", file=sys.stderr)
    made = f"store version {report.version}" if report.version else "no new version"
    print(
        f"graphsvc: imported {folder} into {pg.where}: {report.written} files written, "
        f"{report.deleted} deleted, {report.unchanged} unchanged ({made}) "
        f"in {time.perf_counter() - t0:.2f}s",
        file=sys.stderr,
    )
    if args.watch:
        return _import_watch(pg, folder)
    return 1 if status or report.skipped else 0


def _import_watch(pg, folder: Path) -> int:
    """Follow ``folder`` into the store until interrupted: each burst of changes is one
    store transaction of the files it touched; after an outage, a full re-import."""
    from ..errors import StoreUnavailable
    from ..files.watch import follow
    from ..store.transfer import import_folder, import_paths

    print(f"graphsvc: following {folder} into {pg.where} (Ctrl-C stops)", file=sys.stderr)
    rescan = False
    for fresh, changes in follow(folder, threading.Event(), timeout_ms=1000):  # Ctrl-C ends it
        try:
            if rescan or fresh:  # a new watch, or after an outage: all that changed
                report = import_folder(pg, folder)
                rescan = False
            elif changes:
                rels = [os.path.relpath(p, folder) for _, p in changes]
                report = import_paths(pg, folder, rels)
            else:
                continue
        except StoreUnavailable as e:
            print(f"graphsvc: {e}; trying again", file=sys.stderr, flush=True)
            rescan = True
            continue
        for issue in report.skipped:
            print(f"graphsvc: {issue}", file=sys.stderr)
        if report.version:
            print(
                f"graphsvc: store version {report.version}: {report.written} files written, "
                f"{report.deleted} deleted",
                file=sys.stderr,
                flush=True,
            )
    return 0


@store_errors
def export_store(args: argparse.Namespace) -> int:
    """``graphsvc export --store``: the store's files into a new folder."""
    from ..store.transfer import export_files

    pg = _store(args)
    try:
        with progress_bar("exporting", None) as advance:
            report = export_files(pg, args.dir, progress=advance)
    except (FileExistsError, ValueError) as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2
    print(
        f"graphsvc: wrote {report.files} files of {pg.where} (version {report.version}) "
        f"to {args.dir}",
        file=sys.stderr,
    )
    return 0


@store_errors
def cmd_store_prune(args: argparse.Namespace) -> int:
    pg = _store(args)
    pg.migrate()
    done = pg.prune(args.keep, args.min_age)
    print(
        f"graphsvc: store version {done.head}: the log holds every version after "
        f"{done.horizon}; {done.deleted} rows deleted, {done.kept_current} older rows kept "
        "(they hold files' current content)",
        file=sys.stderr,
    )
    return 0
