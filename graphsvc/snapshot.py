"""Snapshots of a built graph, so that a restart on an unchanged corpus is quick.

A snapshot is one file in the cache folder (the ``cache_dir`` setting, see
:func:`graphsvc.config.default_cache_dir`), named by a hash of the corpus
folder's absolute path. It holds:

1. a magic line, then a one-line JSON header: snapshot format, graphsvc version, a
   fingerprint of graphsvc's own code, the corpus folder, the payload's length and its
   SHA-256 (written last, in a room of fixed size padded with spaces, because the
   payload is pickled straight into the file and never held in memory);
2. the payload: one pickle of ``{"graph": LinkGraph, "state": GraphState or None,
   "sigs": {relative path: (inode, size, mtime_ns, ctime_ns)}}`` - the graph, the
   delta state it was made with (None when a read-only server wrote it) and the
   signature of every file as read for it;
3. beside it, when there is delta state, the state's SQLite database as a file of its
   own, ``<snapshot>.<random>.state``, named in the header with its length and SHA-256
   (a database inside the pickle cannot pass 2 GB, which is ~270k files, and would be
   copied on the heap). A new snapshot names a new file and removes the one it
   replaced; a reader opens it as soon as it has read the header, so that removal
   never pulls it away mid-load.

A snapshot is used only when every header field matches and the payload (and the state
file) has exactly the stated length and checksum; anything else (another corpus, another graphsvc, a
truncated or corrupt file, a file that is not a snapshot at all) means a cold load,
which writes a fresh snapshot. Files whose signature differs from the one recorded
(changed, added, removed) are then read again and applied as a delta
(:meth:`graphsvc.corpus.folder.FolderSource.load`).

Pickles run code when loaded, so the cache folder must be as private as your home
folder (it is created with mode 0700). The checksum guards against corruption, not
against someone who can write there.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import default_cache_dir

MAGIC = b"graphsvc-snapshot\n"
FORMAT = 2
_HEADER_MAX = 64 * 1024


def snapshot_path(root: str | os.PathLike, folder: Path | None = None) -> Path:
    """Where the snapshot of corpus folder ``root`` lives."""
    absolute = os.path.realpath(root)
    name = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return (folder or default_cache_dir()) / f"{name}.snapshot"


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


def sidecar_path(path: Path) -> Path:
    """A new name for a state file beside the snapshot at ``path``."""
    return path.with_name(f"{path.name}.{os.urandom(8).hex()}.state")


#: State files of a snapshot's name that no snapshot names are removed after this long
#: (a process killed between writing one and renaming its snapshot left them).
ORPHAN_SECONDS = 3600.0


def _header(fh) -> dict:
    if fh.read(len(MAGIC)) != MAGIC:
        raise Rejected("not a graphsvc snapshot")
    try:
        header = json.loads(fh.readline(_HEADER_MAX))
        int(header["payload_bytes"]), str(header["payload_sha256"])
    except (ValueError, KeyError, TypeError):
        raise Rejected("unreadable snapshot header") from None
    return header


def _sha256(src, sink=None, limit: int | None = None) -> tuple[int, str]:
    """Read ``src`` to its end in pieces, copying them to ``sink`` if given: (bytes
    read, SHA-256). Stops (without copying the piece) once past ``limit`` bytes."""
    h, n = hashlib.sha256(), 0
    while chunk := src.read(1 << 22):
        h.update(chunk)
        n += len(chunk)
        if limit is not None and n > limit:
            break
        if sink is not None:
            sink.write(chunk)
    return n, h.hexdigest()


def _sidecar_name(path: Path) -> str | None:
    """The state file the snapshot at ``path`` names, if it can be told."""
    try:
        with open(path, "rb") as fh:
            side = _header(fh).get("sidecar")
    except (OSError, Rejected):
        return None
    return side.get("name") if isinstance(side, dict) else None


def load(path: Path, key: Key):
    """The payload of the snapshot at ``path`` if it matches ``key``; else :class:`Rejected`."""
    try:
        fh = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise Rejected("no snapshot yet") from None
    except OSError as e:
        raise Rejected(f"cannot read the snapshot: {e.strerror}") from None
    with fh, contextlib.ExitStack() as stack:
        header = _header(fh)
        size, digest = int(header["payload_bytes"]), str(header["payload_sha256"])
        want = key.header()
        for field, value in want.items():
            if header.get(field) != value:
                raise Rejected(f"snapshot is stale or foreign: {field} differs")
        side, side_fh = header.get("sidecar"), None
        if side is not None:
            try:
                name = str(side["name"])
                if os.path.basename(name) != name or not name.startswith(path.name + "."):
                    raise ValueError(name)
                side_fh = stack.enter_context(open(path.parent / name, "rb"))
                side_size, side_sha = int(side["bytes"]), str(side["sha256"])
            except (TypeError, KeyError, ValueError):
                raise Rejected("unreadable snapshot header") from None
            except OSError as e:
                raise Rejected(f"the snapshot's state file cannot be read: {e.strerror}") from None
        # Check length and checksum first, reading in pieces, then unpickle from the
        # same open file: the payload is never held in memory whole (that would be
        # about half as much again as the graph, at the peak). Snapshots are replaced
        # by rename, never rewritten in place, so the open file cannot change under us.
        start = fh.tell()
        _check(_sha256(fh), size, digest, "snapshot is")
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
        state = graph.get("state") if isinstance(graph, dict) else None
        wants = getattr(state, "sidecar", None)
        if wants is not None or side_fh is not None:
            if state is None or wants is None or side_fh is None or wants != name:
                raise Rejected("the snapshot and its state file do not match")

            def fill(dst) -> None:  # checked as it is copied to the working file: one pass
                got = _sha256(side_fh, dst, side_size)
                _check(got, side_size, side_sha, "the snapshot's state file is")

            try:
                state.attach(fill)
            except OSError as e:
                raise Rejected(f"the snapshot's state file cannot be read: {e.strerror}") from None
    return graph


def save(path: Path, key: Key, obj, sidecar: Path | None = None) -> int:
    """Write ``obj`` (a dict holding ``graph``) as the snapshot, atomically; returns its
    size in bytes. Raises OSError. ``sidecar``: the state file the pickled state names
    (:meth:`GraphState.frozen`), beside ``path``; hashed and synced here, then the one
    the old snapshot named is removed. A save that fails removes ``sidecar``."""
    try:
        return _save(path, key, obj, sidecar)
    except BaseException:
        if sidecar is not None:
            with contextlib.suppress(OSError):
                os.unlink(sidecar)
        raise


def _check(got: tuple[int, str], size: int, digest: str, what: str) -> None:
    if got[0] != size:
        raise Rejected(f"{what} truncated or too long ({got[0]} of {size} bytes)")
    if got[1] != digest:
        raise Rejected(f"{what} corrupt: checksum mismatch")


def _remove_sidecars(path: Path, keep: str | None, old: str | None) -> None:
    """Remove the state file the replaced snapshot named, and orphans of this name."""
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(path.parent) as it:
        for e in it:
            n = e.name
            if n == keep or not (n.startswith(path.name + ".") and n.endswith(".state")):
                continue
            with contextlib.suppress(OSError):
                if n == old or now - e.stat(follow_symlinks=False).st_mtime > ORPHAN_SECONDS:
                    os.unlink(e.path)


class _Hashing:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, fh):
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def write(self, b) -> int:
        self.sha.update(b)
        self.n += len(b)
        return self.fh.write(b)


#: Bytes kept for the header line: it is written last (it holds the payload's length
#: and checksum), in place, padded with spaces (JSON ignores them).
_HEADER_ROOM = 8 * 1024


def _save(path: Path, key: Key, obj, sidecar: Path | None) -> int:
    header = key.header()
    if sidecar is not None:
        if sidecar.parent != path.parent:
            raise ValueError("the state file must be beside the snapshot")
        with open(sidecar, "rb") as fh:
            n, digest = _sha256(fh)
            os.fsync(fh.fileno())
        header["sidecar"] = {"name": sidecar.name, "bytes": n, "sha256": digest}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            fh.write(MAGIC + b" " * (_HEADER_ROOM - 1) + b"\n")
            # Pickled straight to the file: the payload (gigabytes at 1M articles) is
            # never held in memory beside the graph. Of the graph's derived caches only
            # ``stats`` goes in (LinkGraph.__getstate__).
            out = _Hashing(fh)
            pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
            header["payload_bytes"] = out.n
            header["payload_sha256"] = out.sha.hexdigest()
            line = json.dumps(header, sort_keys=True).encode()
            if len(line) > _HEADER_ROOM - 1:
                raise ValueError("the snapshot header does not fit its room")
            fh.seek(len(MAGIC))
            fh.write(line.ljust(_HEADER_ROOM - 1))
            fh.flush()
            os.fsync(fh.fileno())
        old = _sidecar_name(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _remove_sidecars(path, sidecar.name if sidecar else None, old)
    return len(MAGIC) + _HEADER_ROOM + out.n
