"""A background thread that follows a folder and hands what changed to callbacks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..files.watch import follow

log = logging.getLogger("graphsvc.live")

#: How the watcher groups changes: a burst ends after STEP_MS of quiet, or DEBOUNCE_MS.
DEBOUNCE_MS = 500
STEP_MS = 100


class FolderWatcher:
    """Follow ``root`` from a thread until :meth:`stop`; one job, behaviour as callbacks.

    ``on_fresh()`` runs when a new watch is set up (catch up with what came before it),
    ``on_changes(paths)`` with each burst of changed paths, ``on_tick()`` after each
    (and every ``timeout_ms`` when nothing changed). ``wanted(change, path)`` filters
    events; ``poll_ms()`` is the polling interval when inotify cannot be used. A failure
    is logged and the watch started again after a second.
    """

    def __init__(
        self,
        root: str,
        *,
        on_fresh: Callable[[], Any],
        on_changes: Callable[[Iterable[str]], Any],
        on_tick: Callable[[], Any],
        wanted: Callable[[Any, str], bool],
        poll_ms: Callable[[], int],
        timeout_ms: int = 200,
        debounce_ms: int = DEBOUNCE_MS,
        step_ms: int = STEP_MS,
    ):
        self.root = root
        self._on_fresh, self._on_changes, self._on_tick = on_fresh, on_changes, on_tick
        self._wanted, self._poll_ms, self._timeout_ms = wanted, poll_ms, timeout_ms
        self._debounce, self._step = debounce_ms, step_ms
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="graphsvc-watch", daemon=True)

    def start(self, ready_timeout: float = 10) -> None:
        """Start; return once the watch is set up and caught up with earlier changes."""
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            log.warning("the watcher of %s is slow to start", self.root)

    def stop(self, timeout: float = 10) -> None:
        """Stop following and wait (at most ``timeout``) for the thread to end."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        stop, ready = self._stop, self._ready
        while not stop.is_set():
            try:
                for fresh, changes in follow(
                    self.root,
                    stop,
                    watch_filter=self._wanted,
                    debounce=self._debounce,
                    step=self._step,
                    timeout_ms=self._timeout_ms,
                    poll_ms=self._poll_ms,
                ):
                    if fresh:  # a new watch is set up: catch up with anything before it
                        self._on_fresh()
                        if not ready.is_set():
                            log.info("following %s: caught up, watching for changes", self.root)
                            ready.set()
                    elif changes:
                        self._on_changes(path for _, path in changes)
                    self._on_tick()
            except Exception:
                log.exception("following %s failed; starting again in 1 s", self.root)
                stop.wait(1)
        ready.set()
