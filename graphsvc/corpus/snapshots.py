"""Writing a corpus's snapshot: now, or from a forked child while serving goes on."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import snapshot
from ..graph.delta import GraphState

log = logging.getLogger("graphsvc.live")

#: How often (seconds) a changed corpus's snapshot is written again while it is followed.
SNAPSHOT_INTERVAL = 300


class SnapshotWriter:
    """Writes the snapshot of a corpus (:mod:`graphsvc.snapshot`) and knows when it is due.

    ``path`` is where it goes (a store sets it once it knows the store's identity),
    ``key()`` what it must match when read back, ``interval`` how often a changed corpus
    writes it again while followed (:meth:`due`); ``enabled`` false stops all writes.
    ``unsaved`` says versions were applied since the last write. The corpus calls
    :meth:`write` under its lock.
    """

    def __init__(
        self,
        path: Path | None,
        key: Callable[[], snapshot.Key],
        interval: float = SNAPSHOT_INTERVAL,
        where: str = "",
    ):
        self.path = path
        self.key = key
        self.interval = interval
        self.where = where  # named in the log
        self.enabled = True  # False: never written again (a store that went back)
        self.unsaved = False
        self._saved_at = time.monotonic()
        self._child: int | None = None

    def known_path(self) -> Path:
        """:attr:`path`, which a folder's writer always has and a store's has once the
        store's identity is known (before any read or write of its snapshot)."""
        path = self.path
        assert path is not None, "the snapshot's path is not known yet"
        return path

    def due(self) -> bool:
        """Versions were applied and the last write is ``interval`` old."""
        return self.unsaved and time.monotonic() - self._saved_at >= self.interval

    def write(
        self,
        state: GraphState | None,
        payload: Callable[[], dict[str, Any]],
        *,
        background: bool = False,
        move: bool = False,
    ) -> None:
        """Write ``payload()`` (graph, delta state, signatures...) atomically.

        With ``background`` it is written by a forked child holding this moment's
        memory copy-on-write, so the server keeps answering (skipped while the last one
        is still writing). ``move``: the state is not used again (a cold-load child)."""
        fork = background and hasattr(os, "fork")
        if fork:
            self.reap()
            if self._child is not None:
                return  # the last one is still writing: next time
        self._write(state, payload, fork, move)
        self.unsaved = False
        self._saved_at = time.monotonic()

    def _write(
        self,
        state: GraphState | None,
        payload: Callable[[], dict[str, Any]],
        fork: bool,
        move: bool,
    ) -> None:
        # The delta state's database goes beside the snapshot, copied now (under the
        # corpus lock: writes wait for the copy, readers do not), so it matches the graph.
        path = self.known_path()
        side = None
        if state is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            side = snapshot.sidecar_path(path)
        frozen = state.frozen(side, move) if state else contextlib.nullcontext()
        try:
            with frozen:
                data = payload()
                if not fork:
                    snapshot.save(path, self.key(), data, side)
                    return
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:  # the child: write and leave, touching nothing else
                    code = 1
                    try:
                        # Serving comes first: on a small machine the pickling child
                        # would otherwise take a core from the server for its duration.
                        with contextlib.suppress(OSError):
                            os.nice(10)
                        snapshot.save(path, self.key(), data, side)
                        code = 0
                    finally:
                        os._exit(code)
                self._child = pid
        except BaseException:
            if side is not None:  # save() removes it too; a failed copy or fork does not
                with contextlib.suppress(OSError):
                    os.unlink(side)
            raise

    def reap(self, wait: bool = False) -> None:
        """Collect the background writer if it is done (or, with ``wait``, once it is)."""
        if self._child is None:
            return
        try:
            pid, status = os.waitpid(self._child, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            pid, status = self._child, 0
        if pid:
            if status:
                log.warning("writing the snapshot of %s failed (status %d)", self.where, status)
            self._child = None
