"""Snapshots of a built graph, so that a restart on an unchanged corpus is quick.

A snapshot is one file in the cache folder (``$GRAPHSVC_CACHE_DIR``, else
``$XDG_CACHE_HOME/graphsvc``, else ``~/.cache/graphsvc``), named by a hash of the corpus
folder's absolute path. It holds:

1. a magic line, then a one-line JSON header: snapshot format, graphsvc version, a
   fingerprint of graphsvc's own code, the corpus folder, the payload's length and its
   SHA-256;
2. the payload: one pickle of ``{"graph": LinkGraph, "state": GraphState or None,
   "sigs": {relative path: (inode, size, mtime_ns, ctime_ns)}}`` - the graph, the
   delta state it was made with (None when a read-only server wrote it) and the
   signature of every file as read for it.

A snapshot is used only when every header field matches and the payload has exactly
the stated length and checksum; anything else (another corpus, another graphsvc, a
truncated or corrupt file, a file that is not a snapshot at all) means a cold load,
which writes a fresh snapshot. Files whose signature differs from the one recorded
(changed, added, removed) are then read again and applied as a delta
(:meth:`graphsvc.live.LiveCorpus.load`).

Pickles run code when loaded, so the cache folder must be as private as your home
folder (it is created with mode 0700). The checksum guards against corruption, not
against someone who can write there.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__

MAGIC = b"graphsvc-snapshot\n"
FORMAT = 2
_HEADER_MAX = 64 * 1024


def cache_dir() -> Path:
    env = os.environ.get("GRAPHSVC_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "graphsvc"


def snapshot_path(root: str | os.PathLike, folder: Path | None = None) -> Path:
    """Where the snapshot of corpus folder ``root`` lives."""
    absolute = os.path.realpath(root)
    name = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return (folder or cache_dir()) / f"{name}.snapshot"


_CODE: str | None = None


def code_fingerprint() -> str:
    """graphsvc's version and a hash of its source, Python's and networkx's versions."""
    global _CODE
    if _CODE is None:
        import networkx

        h = hashlib.sha256(f"{__version__}|{sys.version}|{networkx.__version__}".encode())
        pkg = Path(__file__).resolve().parent
        for path in sorted(pkg.rglob("*.py")):
            h.update(str(path.relative_to(pkg)).encode())
            h.update(path.read_bytes())
        _CODE = h.hexdigest()
    return _CODE


@dataclass(slots=True)
class Key:
    """What a snapshot must match to be used."""

    root: str

    def header(self) -> dict:
        return {
            "format": FORMAT,
            "graphsvc": __version__,
            "code": code_fingerprint(),
            "root": os.path.realpath(self.root),
        }


class Rejected(Exception):
    """Why a snapshot was not used (the message says)."""


def load(path: Path, key: Key):
    """The payload of the snapshot at ``path`` if it matches ``key``; else :class:`Rejected`."""
    try:
        fh = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise Rejected("no snapshot yet") from None
    except OSError as e:
        raise Rejected(f"cannot read the snapshot: {e.strerror}") from None
    with fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise Rejected("not a graphsvc snapshot")
        line = fh.readline(_HEADER_MAX)
        try:
            header = json.loads(line)
            size, digest = int(header["payload_bytes"]), str(header["payload_sha256"])
        except (ValueError, KeyError, TypeError):
            raise Rejected("unreadable snapshot header") from None
        want = key.header()
        for field, value in want.items():
            if header.get(field) != value:
                raise Rejected(f"snapshot is stale or foreign: {field} differs")
        # Check length and checksum first, reading in pieces, then unpickle from the
        # same open file: the payload is never held in memory whole (that would be
        # about half as much again as the graph, at the peak). Snapshots are replaced
        # by rename, never rewritten in place, so the open file cannot change under us.
        start = fh.tell()
        h = hashlib.sha256()
        seen = 0
        while chunk := fh.read(1 << 22):
            h.update(chunk)
            seen += len(chunk)
        if seen != size:
            raise Rejected(f"snapshot is truncated or too long ({seen} of {size} bytes)")
        if h.hexdigest() != digest:
            raise Rejected("snapshot is corrupt: checksum mismatch")
        fh.seek(start)
        enabled = gc.isenabled()
        gc.disable()  # millions of new objects, none of them garbage: skip the collector
        try:
            graph = pickle.load(fh)
        except Exception as e:  # noqa: BLE001 - whatever a damaged pickle raises
            raise Rejected(f"snapshot does not unpickle: {type(e).__name__}") from None
        finally:
            if enabled:
                gc.enable()
    return graph


def save(path: Path, key: Key, obj) -> int:
    """Write ``obj`` (a dict holding ``graph``) as the snapshot, atomically; returns its
    size in bytes. Raises OSError."""
    graph = obj["graph"] if isinstance(obj, dict) else obj
    cache = graph._cache
    graph._cache = {}  # derived data: rebuilt on demand, not worth storing
    try:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        graph._cache = cache
    header = key.header()
    header["payload_bytes"] = len(payload)
    header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    buf = io.BytesIO()
    buf.write(MAGIC)
    buf.write(json.dumps(header, sort_keys=True).encode() + b"\n")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return buf.tell() + len(payload)
