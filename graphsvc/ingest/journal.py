"""A batch of file writes that a crash cannot leave half done.

Before the first file of a batch changes, :class:`Batch` writes the journal
``.graphsvc-journal`` in the corpus folder: every file the batch touches and its
content before (or that it did not exist), fsynced. It is removed once the last file
is in place. A journal found later (:func:`recover`, run by every listing of the
folder) means a batch was interrupted: each named file gets its old content back (a
file the batch created is removed) and the journal goes, so the folder holds all of
the batch or none of it. The batch holds an ``flock`` on the folder itself while it runs,
so that another process reading the folder never undoes a batch in progress.

All file operations go through :mod:`graphsvc.ingest.fs` (no symlink is followed).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import json
import logging
import os

from . import fs

JOURNAL = ".graphsvc-journal"

log = logging.getLogger("graphsvc.journal")

#: Tests only: the process exits (as if killed) after this many file changes of a batch.
_CRASH_ENV = "GRAPHSVC_TEST_CRASH_AFTER_WRITES"


def _open_lock(root: str) -> int:
    """An fd to ``flock``: the corpus folder itself (no lock file to leave behind)."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


class Batch:
    """``with Batch(root, befores):`` around the writes of one batch.

    ``befores`` maps each relative path the batch writes or deletes to its bytes
    before (None: the file does not exist yet). Call :meth:`step` after each file
    change. A batch of one file needs no journal (one rename is atomic already).
    """

    def __init__(self, root: str, befores: dict[str, bytes | None]):
        self.root, self.befores = root, befores
        self.journaled = len(befores) > 1
        self.lock_fd: int | None = None
        self.steps = 0
        crash = os.environ.get(_CRASH_ENV)
        self.crash_after = int(crash) if crash else None

    def __enter__(self) -> Batch:
        if self.journaled:
            self.lock_fd = _open_lock(self.root)
            try:
                self._begin()
            except BaseException:
                self.__exit__()
                raise
        return self

    def _begin(self) -> None:
        if self.lock_fd is not None:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
            files = [
                {
                    "path": rel,
                    "before": None if b is None else base64.b64encode(b).decode("ascii"),
                }
                for rel, b in self.befores.items()
            ]
            data = json.dumps({"graphsvc-journal": 1, "files": files}).encode()
            fs.write(self.root, JOURNAL, data, sync=True, mode=0o600)

    def step(self) -> None:
        self.steps += 1
        if self.crash_after is not None and self.steps >= self.crash_after:
            os._exit(137)  # tests only: a kill -9 in the middle of the batch

    def done(self) -> None:
        """Every file is in place (or every change undone): the journal goes."""
        if self.journaled:
            with contextlib.suppress(FileNotFoundError):
                fs.delete(self.root, JOURNAL)

    def __exit__(self, *exc) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the flock
            self.lock_fd = None


def recover(root: str | os.PathLike) -> list[str]:
    """Undo a batch a crash interrupted; returns the paths restored (usually none).

    Does nothing while another process runs a batch here, or when the folder cannot
    be written (then the journal stays and a later load tries again).
    """
    root = os.fspath(root)
    if fs.lstat(root, JOURNAL) is None:
        return []
    try:
        lock_fd = _open_lock(root)
    except OSError as e:
        log.warning("an interrupted write batch in %s cannot be undone: %s", root, e.strerror)
        return []
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return []  # a batch is running in another process
            raise
        try:
            raw = fs.read(root, JOURNAL, 1 << 40)
        except FileNotFoundError:
            return []  # undone meanwhile
        try:
            files = json.loads(raw)["files"]
            plan = [
                (f["path"], None if f["before"] is None else base64.b64decode(f["before"]))
                for f in files
            ]
        except (ValueError, KeyError, TypeError):
            # Torn while written: the batch had not begun (the journal is fsynced first).
            log.warning("removed an unreadable write journal in %s", root)
            fs.delete(root, JOURNAL)
            return []
        restored = []
        for rel, before in plan:
            try:
                if before is None:
                    fs.delete(root, rel)
                else:
                    fs.write(root, rel, before)
            except FileNotFoundError:
                continue
            restored.append(rel)
        fs.delete(root, JOURNAL)
        log.warning(
            "undid a write batch that was interrupted in %s: %d files restored",
            root,
            len(restored),
        )
        return restored
    except OSError as e:
        log.warning("an interrupted write batch in %s cannot be undone: %s", root, e.strerror)
        return []
    finally:
        os.close(lock_fd)
