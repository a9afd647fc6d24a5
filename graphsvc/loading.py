"""Loading a corpus on the command line: its phases (:mod:`graphsvc.phases`: rows on a
terminal, plain lines elsewhere), a summary line, true words about the snapshot.

Used by the commands (``validate``, ``import``) and by :mod:`graphsvc.server` (a
server's load, the ``--workers`` supervisor's child).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from .config import Config, dumb_terminal


@contextlib.contextmanager
def progress_bar(what: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; yields ``advance(n)``."""
    if not sys.stderr.isatty() or dumb_terminal():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(f"graphsvc: {what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


def load_with_progress(corpus, display=None):
    """``corpus.load()`` showing its phases (:mod:`graphsvc.phases`) once the source says
    there are 200 files or more: parsing (with its count), then each phase the corpus
    says it starts (graph, snapshot); returns what the load returns. ``display``: one
    that goes on after the load (a server's indexes and search), else the load's own."""
    from .phases import MIN_FILES, LoadDisplay

    own = display is None
    display = display if display is not None else LoadDisplay()

    def on_files(n: int) -> None:
        if n >= MIN_FILES:
            display.arm()
        display.start("parsing", n)

    try:
        return corpus.load(on_files=on_files, progress=display.advance, on_phase=display.start)
    except BaseException:
        display.finish()
        raise
    finally:
        if own:
            display.finish()


def load_corpus_object(
    folder: Path,
    config: Config,
    quiet: bool = False,
    corpus=None,
    live: bool = True,
    display=None,
):
    """Load a corpus object (``corpus``, or a new one) showing its phases, then the
    summary (``display``: see :func:`load_with_progress`).

    The summary goes to stderr always unless ``quiet``, which keeps it for terminals."""
    from .corpus import folder_corpus

    if corpus is None:
        corpus = folder_corpus(
            folder, load=False, cache=config.cache, cache_dir=config.snapshots(), keep_state=live
        )
    tty = sys.stderr.isatty()
    loaded = load_with_progress(corpus, display)
    lg = loaded.graph
    if not quiet or tty:
        describe(
            lg, loaded.seconds, "from snapshot" if loaded.source == "snapshot" else "from files"
        )
        if loaded.reread:
            print(
                f"graphsvc: {loaded.reread} files changed since the snapshot, applied",
                file=sys.stderr,
            )
        for line in snapshot_messages(loaded.note):
            print(f"graphsvc: {line}", file=sys.stderr)
    return corpus


#: What the corpus's notes about a snapshot without delta state mean to the user: such
#: a snapshot is written by `graphsvc validate` and by read-only servers.
_STATIC_SNAPSHOT = {
    "snapshot has no delta state (written by a read-only server)": (
        "read the files instead: the snapshot was written by `graphsvc validate` or a read-only "
        "server, without the change state a server following the folder needs"
    ),
    "files changed since a snapshot written without delta state": (
        "read the files instead: they changed since the snapshot, which (written by `graphsvc "
        "validate` or a read-only server) cannot take changes"
    ),
}


def snapshot_messages(note: str | None) -> list[str]:
    """The lines to print about the snapshot for a load's ``note`` (none when there was
    nothing to use yet)."""
    lines = []
    for part in (note or "").split("; "):
        part = part.strip()
        if not part or part == "None" or "no snapshot yet" in part:
            continue
        if part in _STATIC_SNAPSHOT:
            lines.append(_STATIC_SNAPSHOT[part])
        elif part.startswith(("no snapshot written", "loading in a child process")):
            lines.append(part)
        else:
            lines.append(f"snapshot not used: {part}")
    return lines


def load_static_graph(folder: Path, config: Config, quiet: bool = False):
    """``folder``'s static graph, loaded with :func:`load_corpus_object`."""
    return load_corpus_object(folder, config, quiet=quiet, live=False).graph


def load_report(lg) -> list:
    """``lg``'s load problems in the order the API's ``loadReport`` gives them."""
    from .records import errors_first

    return errors_first(lg.issues)


def print_report(lg) -> int:
    """What `graphsvc validate` prints; 1 when there are errors."""
    for issue in load_report(lg):
        print(issue)
    s = lg.stats()
    print(
        f"{s.files} files: {s.documents} articles with files, {s.stubs} stubs, "
        f"{s.load_errors} errors, {s.load_warnings} warnings"
    )
    return 1 if s.load_errors else 0


def describe(lg, seconds: float, how: str | None = None) -> None:
    """The summary line of a loaded graph (``how``: from what, in brackets)."""
    s = lg.stats()
    print(
        f"graphsvc: {s.files} files, {s.articles} articles ({s.documents} with files, "
        f"{s.stubs} stubs), {s.providers} providers, {s.topics} topics, "
        f"{s.related_edges} related links, {s.load_errors} errors, "
        f"{s.load_warnings} warnings in {seconds:.2f}s" + (f" ({how})" if how else ""),
        file=sys.stderr,
    )


def preload(folder: Path, config: Config, corpus=None, live: bool = False, display=None):
    """A server's load: the corpus with its phases and summary, then a pointer to
    ``graphsvc validate`` when there are load errors."""
    corpus = load_corpus_object(folder, config, corpus=corpus, live=live, display=display)
    lg = corpus.graph
    if lg.stats().load_errors:
        print(
            f"graphsvc: {lg.stats().load_errors} load errors; see `graphsvc validate {folder}`",
            file=sys.stderr,
        )
    sys.stderr.flush()
    return lg


def preload_shared(folder: Path, config: Config) -> None:
    """The ``--workers`` supervisor's child: load (writing the snapshot workers start
    from) and start the shared version journal at the loaded version."""
    from .corpus.versions import VersionJournal
    from .snapshot import snapshot_path

    corpus = load_corpus_object(folder, config, live=True)
    corpus.close()
    VersionJournal(snapshot_path(corpus.root, config.snapshots())).reset(corpus.graph.version)


def load_store(live) -> None:
    """Bulk-read the store into ``live``, with a progress bar on a terminal."""
    load_with_progress(live)
