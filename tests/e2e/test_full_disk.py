"""Issue 22, item 4: a full disk must not keep the service down once the space is back.

* A clean stop (SIGTERM, SIGINT; one server or ``--workers``) removes the delta state's
  working file ``.graphsvc-state-*.sqlite`` (uvicorn ends the process with the SIGTERM
  it caught, after the app's shutdown: no atexit clean-up runs then).
* A start sweeps every state file no live process holds (the lock decides, not the age:
  a supervisor restarts a server within 100 ms).
* A load that fails (``database or disk is full``) is tried again with backoff: /readyz
  answers 503 saying why and when the next try is, and the server becomes ready by
  itself once the space is back.

The full disk is real: a small tmpfs mounted as the cache folder (needs root, or a user
namespace: the test skips, saying why, when it can make neither)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphsvc.graph.statedb import PREFIX, SUFFIX

from ..conftest import serve
from ..corpus import article, write
from ..livetools import wait_for


def state_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(n for n in os.listdir(folder) if n.startswith(PREFIX) and n.endswith(SUFFIX))


def make_corpus(folder: Path, n: int = 30) -> Path:
    for i in range(n):
        write(folder, f"a{i:03d}.md", article(f"https://disk.example/{i}", f"Article {i}"))
    return folder


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only); skips when none can be made."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small file system: mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a full disk: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; returns it."""
    ballast = folder / "ballast"
    chunk = b"\0" * 65536
    with open(ballast, "wb") as fh:
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    with contextlib.suppress(OSError), open(folder / "ballast2", "wb") as fh:
        while True:  # the last bytes
            fh.write(b"\0")
            fh.flush()
    return ballast


def readyz(server) -> tuple[int, dict]:
    r = server.client.get("/readyz")
    return r.status_code, r.json()


def test_a_load_that_fails_on_a_full_disk_is_tried_again_until_the_space_is_back(tmp_path):
    """The cache folder is a full tmpfs: the server answers, /readyz says 503 with the
    error and when it tries again, the log says so once per try; the space comes back
    and the same process becomes ready, the state file in that folder."""
    corpus = make_corpus(tmp_path / "corpus")
    with small_filesystem(tmp_path / "cache-fs") as cache:
        ballast = fill(cache)
        env = {"GRAPHSVC_CACHE_DIR": str(cache)}
        with serve(corpus, tmp=tmp_path, env=env, ready="/healthz") as s:

            def failed():
                code, body = readyz(s)
                return code == 503 and body.get("status") == "failed" and body

            body = wait_for(failed, timeout=20, what="/readyz saying the load failed", server=s)
            assert "disk is full" in body["error"], body
            assert 0 <= body["retryIn"] <= 30 and body["retryAt"].endswith("Z"), body
            r = s.client.post("/graphql", json={"query": "{ stats { articles } }"})
            assert r.status_code == 503, r.text
            wait_for(lambda: "(try 2)" in s.logs(), timeout=20, what="a second try", server=s)
            tries = [ln for ln in s.logs().splitlines() if "graph load failed (try" in ln]
            assert len(tries) == len({ln.split("(try ")[1][:3] for ln in tries}), tries
            assert s.logs().count("Traceback") == 1  # the first try's, not one per try
            for f in cache.iterdir():
                if f.name.startswith("ballast"):
                    f.unlink()
            assert not ballast.exists()
            wait_for(lambda: readyz(s)[0] == 200, timeout=45, what="ready", server=s)
            code, body = readyz(s)
            assert body["pid"] == s.proc.pid and body["articles"] == 30, body
            assert s.data("{ stats { articles } }")["stats"]["articles"] == 30
            assert len(state_files(cache)) == 1
            assert "graph load worked at try" in s.logs()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_clean_stop_removes_the_state_file(tmp_path, sig):
    corpus = make_corpus(tmp_path / "corpus", 5)
    cache = tmp_path / "cache"
    with serve(corpus, tmp=tmp_path) as s:
        assert len(state_files(cache)) == 1
        s.proc.send_signal(sig)
        s.proc.wait(20)
    assert state_files(cache) == [], s.logs()
    assert any(p.suffix == ".snapshot" for p in cache.iterdir())


def test_workers_stopped_leave_no_state_file(tmp_path):
    """``--workers 2``: the supervisor's loading child and each worker hold a state file
    while they run; SIGTERM to the supervisor leaves none."""
    corpus = make_corpus(tmp_path / "corpus", 5)
    cache = tmp_path / "cache"
    with serve(corpus, "--workers", "2", tmp=tmp_path, timeout=90) as s:
        wait_for(lambda: len(state_files(cache)) == 2, timeout=30, what="two workers' files")
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(30)
    assert state_files(cache) == [], s.logs()


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_start_sweeps_every_unlocked_state_file_whatever_its_age(tmp_path):
    """What a stop that skipped its clean-up left a moment ago goes at the next start;
    one another process holds (locked) stays."""
    corpus = make_corpus(tmp_path / "corpus", 5)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    left = cache / f"{PREFIX}left{SUFFIX}"
    left.write_bytes(b"\0" * (1 << 20))  # just now: a supervisor restarts within 100 ms
    held = cache / f"{PREFIX}held{SUFFIX}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(held)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with serve(corpus, tmp=tmp_path):
            names = state_files(cache)
            assert left.name not in names and held.name in names, names
            assert len(names) == 2  # the held one and the server's own
    finally:
        holder.stdin.close()
        holder.wait(10)
    fd = os.open(held, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free now: the next sweep's
    finally:
        os.close(fd)
