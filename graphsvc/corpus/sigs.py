"""File signatures: how a folder source tells that a file changed since it was read."""

from __future__ import annotations

import os

#: A file's signature as last read: (inode, size, mtime_ns, ctime_ns); None: unknown.
Sig = tuple[int, int, int, int] | None


def sig_of(st: os.stat_result) -> tuple[int, int, int, int]:
    """A file's signature from its stat: (inode, size, mtime_ns, ctime_ns)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def sig(path: str) -> Sig:
    """The signature of ``path`` (not following a symlink); None when it cannot be had."""
    try:
        return sig_of(os.lstat(path))  # a symlink is an entry of its own, not followed
    except OSError:
        return None
