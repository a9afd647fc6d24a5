"""The phases of a load on stderr: parsing, graph, snapshot, indexes, search.

A large load (200 files or more) shows each phase as it starts: on a terminal, one
progress row per phase (parsing with its file count, the others with their elapsed
time), log lines printed above the rows, never into them; elsewhere (CI, a log file)
one plain line per phase, and a last line with every phase's time. A small load shows
nothing.

:class:`LoadDisplay` is driven by its owner: :func:`graphsvc.loading.load_with_progress`
(parsing, then each phase the corpus says it starts: graph, snapshot) and
:mod:`graphsvc.server` (indexes and search, built after the load).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING

from .config import dumb_terminal

if TYPE_CHECKING:  # rich is imported when a bar opens (a fast `graphsvc --version`)
    from rich.progress import Progress, TaskID

#: From this many files on, a load shows its phases.
MIN_FILES = 200

#: What each phase is, for the plain lines.
DOING = {
    "parsing": "parsing {n} files",
    "graph": "graph",
    "snapshot": "snapshot",
    "indexes": "query indexes",
    "search": "search index",
}


class LoadDisplay:
    """The phases of one load; thread-safe (the load runs in its own thread)."""

    def __init__(self, terminal: bool | None = None):
        if terminal is None:
            terminal = sys.stderr.isatty() and not dumb_terminal()
        self.terminal = terminal
        self.armed = False
        self.closed = False  # by close(): shows nothing more
        self.phase: str | None = None
        self.times: dict[str, float] = {}
        self._t0 = 0.0
        self._lock = threading.RLock()
        self._bar: Progress | None = None  # on a terminal
        self._task: TaskID | None = None
        self._counts = False
        self._streams: list[tuple[logging.StreamHandler, object]] = []

    # -- driving it ---------------------------------------------------------------------
    def arm(self) -> None:
        """Show the phases from now on (a large load)."""
        with self._lock:
            if self.armed or self.closed:
                return
            self.armed = True
            if self.terminal:
                self._open_bar()

    def start(self, phase: str, total: int | None = None) -> None:
        """End the current phase and start ``phase`` (``total``: its unit count)."""
        with self._lock:
            self._end_phase()
            self.phase, self._t0 = phase, time.perf_counter()
            if not self.armed:
                return
            if self._bar is not None:
                self._counts = total is not None
                self._task = self._bar.add_task(phase, total=total, count=self._counts)
            else:
                print(
                    f"graphsvc: loading: {DOING[phase].format(n=total)}",
                    file=sys.stderr,
                    flush=True,
                )

    def advance(self, n: int) -> None:
        with self._lock:
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task, n)

    def finish(self) -> None:
        """End the display (idempotent): the last phase ends, log lines go back to
        stderr, and elsewhere than a terminal a line sums the phases up."""
        with self._lock:
            self._end_phase()
            self.phase = None
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
                self._restore_logging()
            if self.armed and not self.terminal and self.times:
                took = ", ".join(f"{k} {v:.1f}s" for k, v in self.times.items())
                print(f"graphsvc: load phases: {took}", file=sys.stderr, flush=True)
            self.armed = False

    def close(self) -> None:
        """:meth:`finish`, and show nothing more (the server stops)."""
        with self._lock:
            self.closed = True
            self.finish()

    # -- inside ----------------------------------------------------------------------------
    def _end_phase(self) -> None:
        if self.phase is None:
            return
        self.times[self.phase] = self.times.get(self.phase, 0.0) + time.perf_counter() - self._t0
        if self._bar is not None and self._task is not None:
            if not self._counts:  # a full bar for a phase without a count
                self._bar.update(self._task, total=1, completed=1)
            self._bar.stop_task(self._task)
        self._task = None

    def _open_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("graphsvc: {task.description:<8}"),
            BarColumn(),
            _Count(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            redirect_stderr=True,
            transient=False,
        )
        self._bar.start()
        self._route_logging()

    def _route_logging(self) -> None:
        """Log handlers writing to the real stderr write through the display instead
        (rich prints those lines above the rows), until :meth:`finish`."""
        proxy = sys.stderr  # rich's, while the display runs
        real = getattr(proxy, "rich_proxied_file", None)
        if real is None:
            return
        for logger in _loggers():
            for h in logger.handlers:
                if type(h) is logging.StreamHandler and h.stream is real:
                    self._streams.append((h, h.setStream(proxy)))

    def _restore_logging(self) -> None:
        for h, stream in self._streams:
            h.setStream(stream)
        self._streams = []


def _loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    named = [v for v in manager.loggerDict.values() if isinstance(v, logging.Logger)]
    return [logging.getLogger(), *named]


def _Count():
    """A column with ``done/total`` for a phase that counts (parsing), else nothing."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Count(ProgressColumn):
        def render(self, task) -> Text:
            if not task.fields.get("count") or task.total is None:
                return Text("")
            return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")

    return Count()
