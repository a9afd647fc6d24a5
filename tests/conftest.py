"""Test harness: real `graphsvc serve` processes on free loopback ports, queried over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's ``GRAPHSVC_*`` variables (a
    test's server depends only on what the test sets), plus ``extra``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GRAPHSVC_")} | extra


@pytest.fixture(autouse=True, scope="session")
def _private_snapshots(tmp_path_factory) -> Iterator[None]:
    """Corpora loaded in the test process keep their snapshots in the session's own
    folder, never in the caller's ``GRAPHSVC_CACHE_DIR`` (or ``~/.cache``)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GRAPHSVC_CACHE_DIR", str(tmp_path_factory.mktemp("snapshots")))
    yield
    patch.undo()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `graphsvc serve` process."""

    def __init__(self, base: str, proc: subprocess.Popen, log: Path):
        self.base, self.proc, self.log = base, proc, log
        self.client = httpx.Client(base_url=base, timeout=60)

    def gql(self, query: str, variables: dict | None = None, **kw) -> dict:
        """POST a query; returns the JSON body (asserting HTTP 200)."""
        r = self.client.post("/graphql", json={"query": query, "variables": variables or {}}, **kw)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        return r.json()

    def data(self, query: str, variables: dict | None = None) -> dict:
        """POST a query that must succeed; returns its data."""
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(
    folder: Path | str | None,
    *args: str,
    tmp: Path,
    env: dict | None = None,
    ready: str = "/readyz",
    timeout: float = 60,
    preexec_fn=None,
    hooks: str | None = None,
) -> Iterator[Server]:
    """Start `python -m graphsvc serve [folder] args...` and wait until it answers.

    The server's environment is :func:`clean_env` with a private snapshot folder and
    ``env``. ``preexec_fn`` runs in the child before it starts (e.g. to lower a resource
    limit); ``hooks`` is a call of :mod:`tests.hooks` (``"crash_after_writes(2)"``) made
    in the server process before its command line runs."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    cmd = [sys.executable, "-m", "graphsvc", "serve"]
    if hooks is not None:
        cmd = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(REPO)!r}); from tests import hooks; "
            f"hooks.{hooks}; from graphsvc.cli import main; sys.exit(main(sys.argv[1:]))",
            "serve",
        ]
    if folder is not None:
        cmd.append(str(folder))
    cmd += ["--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=clean_env(**{"GRAPHSVC_CACHE_DIR": str(tmp / "cache"), **(env or {})}),
            preexec_fn=preexec_fn,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        server = Server(base, proc, log)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def seeds_server(tmp_path_factory) -> Iterator[Server]:
    """The default corpus, served the way a newcomer runs it: no folder argument."""
    with serve(None, tmp=tmp_path_factory.mktemp("seeds")) as s:
        yield s


@pytest.fixture(scope="session")
def read_only_server(tmp_path_factory) -> Iterator[Callable[[Path], Server]]:
    """``read_only_server(folder)``: `graphsvc serve FOLDER --no-watch` without a token
    (so nothing can change what it serves), one per folder for the whole session, for the
    tests that only read and would otherwise each start the same server. Returned once
    its search index answers (built in the background after the start)."""
    servers: dict[Path, Server] = {}
    with ExitStack() as stack:

        def get(folder: Path) -> Server:
            key = Path(folder).resolve()
            if key not in servers:
                tmp = tmp_path_factory.mktemp(f"ro-{key.name}")
                s = stack.enter_context(serve(key, "--no-watch", tmp=tmp))
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    body = s.gql('{ search(query: "ai", first: 1) { totalCount } }')
                    if not body.get("errors"):
                        break
                    time.sleep(0.2)
                servers[key] = s
            return servers[key]

        yield get


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"{SHARED_CORPUS} is absent")
    return SHARED_CORPUS


# A throwaway PostgreSQL for the store tests (skips without PostgreSQL; see tests/pgtools.py).
from tests.pgtools import pg_cluster, pg_url  # noqa: E402, F401
