"""The one file-system policy: what below a folder is read, written and removed.

Every path graphsvc touches in a corpus folder (start-up listing, rescans, watcher
events, reads, writes, deletes) and in an export's output folder goes through here.
The rules:

* **Nothing outside the folder's real path.** The folder itself is resolved once
  (a symlink *to* the corpus folder is fine); below it every step is taken relative to
  an open directory with ``O_NOFOLLOW``, so no symlink below the folder is ever
  followed, not even one swapped in between a check and its use.
* **Symlinks are never followed.** A symlink below the folder (to a file, a folder,
  ``.``, ``/dev/zero``, anything) is listed as an entry of its own and reported as one
  warning, ``skipped: symlink (symlinks are not followed)``; nothing behind it is read.
  Writes and deletes refuse a path whose file or folder is a symlink.
* **Only regular files are read, and at most the size limit plus one byte.** A FIFO,
  socket or device is reported (``skipped: not a regular file (FIFO)``) without
  blocking; a file over the limit is reported from its size without being read.
* Hidden names (starting with ``.``) are not listed.

Errors: :class:`Skipped` (an entry that is not read, with the report's message and
severity), :class:`Unsafe` (a write or delete refused by the policy; an ``OSError``),
and plain ``OSError`` for what the file system says (a passing error such as EMFILE or
EIO: the caller retries later).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator

SYMLINK = "skipped: symlink (symlinks are not followed)"
#: Temporary files are hidden (so loaders and the watcher skip them) and say whose they are.
TMP_SUFFIX = ".graphsvc-tmp"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_KINDS = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "folder",
}


class Skipped(Exception):
    """An entry that is not read; ``str()`` is the load report's message."""

    def __init__(self, message: str, severity: str = "warning"):
        super().__init__(message)
        self.severity = severity


class Unsafe(OSError):
    """A write or delete that would go through a symlink or replace a non-regular file."""


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def _check_regular(mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise Skipped(SYMLINK)
    if not stat.S_ISREG(mode):
        raise Skipped(f"skipped: not a regular file ({_kind(mode)})")


def _parts(rel: str | os.PathLike) -> list[str]:
    rel = os.fspath(rel)
    if os.path.isabs(rel):
        raise Unsafe(errno.EINVAL, "an absolute path is not below the folder", rel)
    parts = [p for p in rel.split(os.sep) if p not in ("", ".")]
    if not parts or ".." in parts:
        raise Unsafe(errno.EINVAL, "not a path below the folder", rel)
    return parts


def _open_dir(root: str, parts: list[str], create: bool = False) -> int:
    """An fd of the folder ``root/parts...``, each step without following a symlink.

    ``create`` makes missing folders (mode 0755). A step that is a symlink or not a
    folder raises :class:`Unsafe`.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Unsafe(e.errno, "a symlink or a file, not a folder", part) from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _parent(root: str, rel: str, create: bool = False) -> Iterator[tuple[int, str]]:
    parts = _parts(rel)
    fd = _open_dir(root, parts[:-1], create)
    try:
        yield fd, parts[-1]
    finally:
        os.close(fd)


# -- listing -------------------------------------------------------------------------
def entries(root: str | os.PathLike, sub: str = "") -> list[str]:
    """Every entry below ``root`` (or its sub-folder ``sub``) that is not a folder,
    relative to ``root``, sorted, hidden names left out.

    Folders are walked only when they are real folders: a symlink (to anything) is
    an entry itself, never walked. FIFOs, sockets and devices are entries too, so
    that reading them reports them. A folder that may not be read (EACCES) or that
    vanishes is left out; any other error (EMFILE, EIO, ...) is raised, so that a
    passing failure never reads as "every file is gone".
    """
    root = os.fspath(root)
    out: list[str] = []
    try:
        fd = _open_dir(root, _parts(sub) if sub else [])
    except (FileNotFoundError, NotADirectoryError, Unsafe):
        if not sub:
            raise
        return out
    _walk(fd, sub, out)
    out.sort()
    return out


#: Errors that leave a folder out of a listing: it may not be read, or it is gone.
_GONE = (PermissionError, FileNotFoundError, NotADirectoryError)


def _walk(fd: int, rel: str, out: list[str]) -> None:
    try:
        with os.scandir(fd) as it:
            found = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except _GONE:
        os.close(fd)
        return
    except BaseException:
        os.close(fd)
        raise
    try:
        for name, is_dir in found:
            if name.startswith("."):
                continue
            path = os.path.join(rel, name) if rel else name
            if not is_dir:
                out.append(path)
                continue
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a symlink or file
                    out.append(path)
                    continue
                if isinstance(e, _GONE):
                    continue
                raise
            _walk(sub, path, out)
    finally:
        os.close(fd)


def lstat(root: str | os.PathLike, rel: str) -> os.stat_result | None:
    """The entry ``rel`` itself (a symlink is not followed), or None when there is none
    or it is reached only through a symlink or a file."""
    try:
        with _parent(os.fspath(root), rel) as (fd, name):
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError, Unsafe):
        return None


# -- reading -------------------------------------------------------------------------
def read(root: str | os.PathLike, rel: str, limit: int) -> bytes:
    """The bytes of the regular file ``rel``, at most ``limit`` of them.

    Raises :class:`Skipped` for a symlink, a non-regular file or a file over
    ``limit`` bytes (an error), ``FileNotFoundError`` when it is gone (or reached only
    through a symlink), and ``OSError`` when the file system fails.
    """
    parts = _parts(rel)
    try:
        dfd = _open_dir(os.fspath(root), parts[:-1])
    except Unsafe:  # reached only through a symlink
        raise Skipped(SYMLINK) from None
    try:
        _check_regular(os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False).st_mode)
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dfd)
        except OSError as e:
            if e.errno == errno.ELOOP:  # swapped for a symlink since the stat
                raise Skipped(SYMLINK) from None
            raise
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        _check_regular(st.st_mode)
        if st.st_size > limit:
            raise too_big(st.st_size, limit)
        chunks: list[bytes] = []
        got = 0
        want = st.st_size + 1
        while True:
            chunk = os.read(fd, min(want, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                raise too_big(got, limit, grew=True)
            want = 1 << 20
        return b"".join(chunks)
    finally:
        os.close(fd)


def too_big(size: int, limit: int, grew: bool = False) -> Skipped:
    what = f"file grew past {size - 1} bytes while read" if grew else f"file is {size} bytes"
    return Skipped(f"{what}, over the {limit} byte limit; skipped", "error")


def read_existing(root: str | os.PathLike, rel: str) -> bytes | None:
    """What :func:`write` would replace: the regular file's bytes, None when absent.
    A symlink or special file there raises :class:`Unsafe` (it is never replaced)."""
    try:
        return read(root, rel, 1 << 62)
    except FileNotFoundError:
        return None
    except Skipped as e:
        raise Unsafe(errno.EPERM, f"{e}: not written", rel) from None


# -- writing ---------------------------------------------------------------------------
def write(
    root: str | os.PathLike,
    rel: str,
    data: bytes,
    sync: bool = True,
    create_dirs: bool = False,
    mode: int = 0o644,
) -> os.stat_result:
    """Replace ``root/rel`` with ``data`` atomically: a reader, or the file after a
    crash, is always the old or the new complete content.

    The data goes to a hidden temporary file in the same folder (opened there with
    ``O_EXCL|O_NOFOLLOW``), is flushed and fsynced, then renamed over ``rel`` within
    that folder's fd; the folder is fsynced so the rename lasts. A symlink on the way
    (a parent folder, or ``rel`` itself) is refused with :class:`Unsafe`: nothing
    outside the folder is written. An existing file keeps its mode and (when allowed)
    its owner; a new file gets ``mode``. On any error the temporary file is removed,
    ``rel`` is untouched and the error is raised. Returns the written file's stat.

    ``sync=False`` skips both fsyncs (still atomic for readers, not across a crash).
    """
    with _parent(os.fspath(root), rel, create=create_dirs) as (dfd, name):
        try:
            old = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not stat.S_ISREG(old.st_mode):
            what = "a symlink" if stat.S_ISLNK(old.st_mode) else _kind(old.st_mode)
            raise Unsafe(errno.EPERM, f"{what} is there; not replaced", rel)
        tmp = _create_tmp(dfd, name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), stat.S_IMODE(old.st_mode) if old else mode)
                if old is not None and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fh.fileno(), old.st_uid, old.st_gid)
                fh.write(data)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
                st = os.fstat(fh.fileno())
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        if sync:
            os.fsync(dfd)
        return st


def create(root: str | os.PathLike, rel: str, data: bytes, create_dirs: bool = True) -> None:
    """Write ``root/rel`` in place (not atomically: for new folders being filled, such
    as a generated corpus), making missing folders; a symlink on the way or at ``rel``
    raises :class:`Unsafe`, so nothing lands outside ``root``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with _parent(os.fspath(root), rel, create=create_dirs) as (dfd, name):
        try:
            fd = os.open(name, flags, 0o644, dir_fd=dfd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENXIO):  # a symlink, or a FIFO with no reader
                why = "a symlink or special file is there; not written"
                raise Unsafe(e.errno, why, rel) from None
            raise
        with os.fdopen(fd, "wb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Unsafe(errno.EPERM, "not a regular file; not written", rel)
            fh.write(data)


def _create_tmp(dfd: int, name: str) -> str:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        # tempfile's own random names (private, so not in typeshed's stubs)
        names = tempfile._get_candidate_names()  # type: ignore[attr-defined]
        tmp = f".{name[:100]}.{next(names)}{TMP_SUFFIX}"
        try:
            os.close(os.open(tmp, flags, 0o600, dir_fd=dfd))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", name)


def delete(root: str | os.PathLike, rel: str, sync: bool = True) -> None:
    """Remove the regular file ``root/rel`` (never a symlink, nor anything behind one)
    and fsync its folder. ``FileNotFoundError`` when it is not there."""
    with _parent(os.fspath(root), rel) as (dfd, name):
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            what = "a symlink" if stat.S_ISLNK(st.st_mode) else _kind(st.st_mode)
            raise Unsafe(errno.EPERM, f"{what}; not removed", rel)
        os.unlink(name, dir_fd=dfd)
        if sync:
            os.fsync(dfd)
