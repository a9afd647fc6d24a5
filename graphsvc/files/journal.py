"""A batch of file writes that a crash cannot leave half done.

Before the first file of a batch changes, :class:`Batch` writes the journal
``.graphsvc-journal`` in the corpus folder: every file the batch touches and its
content before (or that it did not exist), fsynced. It is removed once the last file
is in place. A journal found later (:func:`recover`, run by every listing of the
folder) means a batch was interrupted: each named file gets its old content back (a
file the batch created is removed) and the journal goes, so the folder holds all of
the batch or none of it. The batch holds an ``flock`` on the folder itself while it runs,
so that another process reading the folder never undoes a batch in progress.

All file operations go through :mod:`graphsvc.files.fs` (no symlink is followed).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import json
import logging
import os

from ..records.article import LoadIssue
from . import fs

JOURNAL = ".graphsvc-journal"

log = logging.getLogger("graphsvc.journal")


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
        """One file of the batch is changed."""
        self.steps += 1

    def done(self) -> None:
        """Every file is in place (or every change undone): the journal goes."""
        if self.journaled:
            with contextlib.suppress(FileNotFoundError):
                fs.delete(self.root, JOURNAL)

    def __exit__(self, *exc) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the flock
            self.lock_fd = None


#: An entry whose path gives one of these is malformed (a refusal that will not pass).
_REFUSED = {errno.ENAMETOOLONG, errno.EINVAL, errno.EISDIR, errno.ENOTDIR, errno.ELOOP}
#: At most this many malformed entries are named in the warning (the rest are counted).
_NAMED = 3


def _entry(f: object) -> tuple[str, bytes | None]:
    """One journal entry as (path, content before); ``ValueError`` saying what is wrong."""
    if not isinstance(f, dict):
        raise ValueError(f"{_kind(f)}, not an object")
    path, before = f.get("path"), f.get("before", ...)
    if not isinstance(path, str):
        raise ValueError(f"its path is {_kind(path)}, not text")
    if not path:
        raise ValueError("its path is empty")
    try:
        os.fsencode(path)  # a lone surrogate no file name can hold
    except UnicodeError:
        raise ValueError(f"its path {_name(path)} is not a file name") from None
    if "\0" in path:
        raise ValueError(f"its path {_name(path)} holds a NUL byte")
    if before is None:
        return path, None
    if not isinstance(before, str):
        what = "missing" if before is ... else f"{_kind(before)}, not text or null"
        raise ValueError(f"its content before ({_name(path)}) is {what}")
    try:
        return path, base64.b64decode(before.encode("ascii"), validate=True)
    except (UnicodeError, ValueError):
        raise ValueError(f"its content before ({_name(path)}) is not base64") from None


def _name(path: str) -> str:
    """A path as a warning names it: quoted, and cut short."""
    r = repr(path)
    return r if len(r) <= 80 else r[:76] + "...'"


def _kind(value: object) -> str:
    return "null" if value is None else f"a JSON {_JSON_KINDS.get(type(value), 'value')}"


_JSON_KINDS = {
    dict: "object",
    list: "list",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
}


def _plan(raw: bytes) -> tuple[list[tuple[str, bytes | None]], list[str]] | None:
    """The entries of a journal, and why each malformed one is skipped; None when the
    journal as a whole is not one (torn while written, or not graphsvc's)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(doc, dict) or doc.get("graphsvc-journal") != 1:
        return None
    files = doc.get("files")
    if not isinstance(files, list):
        return None
    plan, bad = [], []
    for n, f in enumerate(files, 1):
        try:
            plan.append(_entry(f))
        except ValueError as e:
            bad.append(f"entry {n}: {e}")
    return plan, bad


def _issue(message: str) -> LoadIssue:
    return LoadIssue(JOURNAL, None, message, "warning")


def recover(root: str | os.PathLike) -> list[LoadIssue]:
    """Undo a batch a crash interrupted; the problems met, as load report warnings
    (none when there is no journal or it was undone cleanly).

    Does nothing while another process runs a batch here, or when the folder cannot
    be written (then the journal stays and a later load tries again). Nothing in the
    journal can make this raise: a journal that is not JSON of the shape :class:`Batch`
    writes is removed with a warning (nothing restored: torn while written, the batch
    had not begun), a malformed entry is skipped with a warning (the others are
    restored), and an entry whose path is refused by :mod:`~graphsvc.files.fs`
    (outside the folder, through a symlink, a folder) is skipped with a warning.
    """
    root = os.fspath(root)
    if fs.lstat(root, JOURNAL) is None:
        return []
    try:
        lock_fd = _open_lock(root)
    except OSError as e:
        return _cannot(root, e)
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
        except fs.Skipped as e:  # a symlink, a folder, a FIFO...: never read nor removed
            log.warning("the write journal in %s is not read: %s", root, e)
            return [_issue(f"the write journal is not read ({_clean(str(e))}); left as it is")]
        parsed = _plan(raw)
        if parsed is None:
            # Torn while written: the batch had not begun (the journal is fsynced first).
            log.warning("removed an unreadable write journal in %s", root)
            fs.delete(root, JOURNAL)
            return [_issue("removed an unreadable write journal; no file restored")]
        plan, bad = parsed
        restored, issues = [], []
        for rel, before in plan:
            try:
                if before is None:
                    fs.delete(root, rel)
                else:
                    fs.write(root, rel, before)
            except FileNotFoundError:
                continue
            except OSError as e:
                if not isinstance(e, fs.Unsafe) and e.errno not in _REFUSED:
                    raise  # a passing failure: the journal stays, a later listing retries
                bad.append(f"{_name(rel)}: {e.strerror or e}")
                continue
            restored.append(rel)
        with contextlib.suppress(FileNotFoundError):  # an entry may have named it
            fs.delete(root, JOURNAL)
        if restored or not bad:
            log.warning(
                "undid a write batch that was interrupted in %s: %d files restored",
                root,
                len(restored),
            )
        if bad:
            named = "; ".join(bad[:_NAMED])
            if len(bad) > _NAMED:
                named += f"; and {len(bad) - _NAMED} more"
            log.warning("the write journal in %s had malformed entries: %s", root, named)
            issues.append(
                _issue(
                    f"the write journal had {len(bad)} malformed "
                    f"{'entry' if len(bad) == 1 else 'entries'}, not restored ({named}); "
                    f"{len(restored)} files restored"
                )
            )
        return issues
    except OSError as e:
        return _cannot(root, e)
    finally:
        os.close(lock_fd)


def _cannot(root: str, e: OSError) -> list[LoadIssue]:
    log.warning("an interrupted write batch in %s cannot be undone: %s", root, e.strerror or e)
    return [_issue(f"an interrupted write batch cannot be undone yet: {e.strerror or e}")]


def _clean(message: str) -> str:
    return message.removeprefix("skipped: ")
