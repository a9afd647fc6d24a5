"""Following a folder's changes: inotify through watchfiles, polling when it cannot.

A watch cannot be set up when the user's inotify instances or watches are used up
(``fs.inotify.max_user_instances`` is 128 by default, and every process of the user on
the host, in every container, counts against it). Then changes would silently stop
showing, so :func:`follow` polls the folder instead, says so once in the log, and tries
inotify again every :data:`NATIVE_RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("graphsvc")

#: While polling, how often to try inotify again.
NATIVE_RETRY_SECONDS = 60.0
#: Polling lists and stats every file: at most once a second, less often for big folders.
POLL_MS_PER_FILE = 0.01
POLL_MS_MIN, POLL_MS_MAX = 1000, 30_000


def poll_interval_ms(files: int) -> int:
    """How often to poll a folder of ``files`` files, in ms.

    >>> poll_interval_ms(2), poll_interval_ms(500_000), poll_interval_ms(10**7)
    (1000, 5000, 30000)
    """
    return int(min(POLL_MS_MAX, max(POLL_MS_MIN, files * POLL_MS_PER_FILE)))


def follow(
    root: str | Path,
    stop: threading.Event,
    *,
    watch_filter: Callable[[Any, str], bool] | None = None,
    debounce: int = 500,
    step: int = 100,
    timeout_ms: int = 200,
    poll_ms: Callable[[], int] = lambda: POLL_MS_MIN,
) -> Iterator[tuple[bool, set[tuple[Any, str]]]]:
    """Yield ``(fresh, changes)`` until ``stop`` is set: ``changes`` is a burst of
    (change, path) pairs, empty every ``timeout_ms`` when nothing changed.

    ``fresh`` is true on the first yield of each new watch (at the start, and when it
    switches between inotify and polling): what changed before it may not be in any
    burst, so the caller lists the folder again then.
    """
    import watchfiles  # noqa: PLC0415 - only for following

    native, told = True, False  # told: the log says we poll (once per outage)
    while not stop.is_set():
        until = None if native else time.monotonic() + NATIVE_RETRY_SECONDS
        try:
            fresh = True
            for changes in watchfiles.watch(
                root,
                watch_filter=watch_filter,
                debounce=debounce,
                step=step,
                stop_event=stop,
                rust_timeout=timeout_ms,
                yield_on_timeout=True,
                raise_interrupt=False,
                force_polling=None if native else True,  # None: $WATCHFILES_FORCE_POLLING
                poll_delay_ms=poll_ms(),
            ):
                if fresh and native and told:
                    log.info("following %s through inotify again", root)
                    told = False
                yield fresh, changes
                fresh = False
                if until is not None and time.monotonic() > until:
                    break  # try inotify again
            else:
                return  # stopped
        except RuntimeError as e:  # watchfiles' WatchfilesRustInternalError
            if not native:
                raise
            if not told:
                log.warning(
                    "cannot follow %s through inotify (%s): polling it every %.1f s instead; "
                    "raise fs.inotify.max_user_instances or max_user_watches for prompt "
                    "changes",
                    root,
                    e,
                    poll_ms() / 1000,
                )
                told = True
            native = False
            continue
        native = True  # polled long enough: try inotify again
