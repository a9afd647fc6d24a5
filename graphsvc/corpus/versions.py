"""The versions several processes serving one folder share (``serve --workers N``)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


class VersionJournal:
    """The versions several processes serving one folder share (``serve --workers N``).

    Two files next to the folder's snapshot: ``<snapshot>.lock``, taken with
    ``fcntl.flock`` around every change, and ``<snapshot>.journal``, one JSON line per
    version, ``{"v": version, "paths": [relative paths]}``. A process that applies a
    change (its watcher saw one, or it was asked to write) takes the lock, first applies
    every line it has not seen yet (re-reading those paths, with their version numbers,
    an empty version if it finds nothing new), then applies its own change as the next
    version and appends its line. The others poll the journal (every 100 ms) and apply
    new lines the same way. So every process makes the same versions in the same order,
    and each publishes every one of them to its own subscribers.

    (Not the write journal of :mod:`graphsvc.files.journal`, which undoes a batch of
    file writes a crash interrupted.)
    """

    def __init__(self, base: Path):
        self.path = Path(str(base) + ".journal")
        self.lock_path = Path(str(base) + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._offset = 0
        self._held = 0
        self.last = 0  # the last version seen in the journal

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file lock (re-entrant within this process)."""
        import fcntl  # noqa: PLC0415 - POSIX only, and only with --workers

        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._held = 1
        try:
            yield
        finally:
            self._held = 0
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def reset(self, version: int) -> None:
        """Start the journal again at ``version`` (the supervisor, before the workers)."""
        with self.locked():
            _write_atomic(self.path, json.dumps({"v": version, "paths": []}).encode() + b"\n")

    def new_lines(self) -> list[tuple[int, list[str]]]:
        """Lines appended since the last call (complete lines only)."""
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:
                    self._offset = 0  # started again
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        out = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                d = json.loads(line)
                out.append((int(d["v"]), list(d["paths"])))
        return out

    def append(self, version: int, paths: list[str]) -> None:
        """Record ``version`` (made of ``paths``) for the other processes."""
        line = json.dumps({"v": version, "paths": paths}).encode() + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.last = max(self.last, version)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = Path(f"{path}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
