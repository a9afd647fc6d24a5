"""Test harness: real `graphsvc serve` processes on free loopback ports, queried over HTTP."""

from __future__ import annotations

import fcntl
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


# -- Running in parallel (pytest-xdist, pyproject's addopts) -------------------------------
# Plain `pytest` runs the files on two worker processes (`-n auto --maxprocesses 2 --dist
# loadfile`): a file's tests, and so its module-scoped servers, stay on one worker. A test
# that measures time (a p99, "within N seconds", frames per second) is marked
# ``@pytest.mark.alone``: it runs with no other test running. Every other test holds a
# shared lock on a file of this run for its setup, call and teardown; an `alone` test holds
# that lock shared while its fixtures start, then exclusively for its call. A second lock
# (the gate) makes a waiting `alone` test go before ordinary tests that ask after it: a
# worker takes the gate only while it asks for the main lock, and never holds the main
# lock while it waits for the gate, so the two cannot deadlock.

#: Files whose tests take longest, slowest first: with ``--dist loadfile`` a worker takes
#: the next file in collection order when it is free. These hold no `alone` test and have
#: tests of 15-50 s each: run first, on both workers at once, they make no `alone` test
#: wait for them, and the last minutes are short files on both workers, not one long file
#: on one. (Seconds: a parallel run on the 2-core machine.) Order within a file is kept.
SLOW_FIRST: tuple[str, ...] = (
    "tests/hostile/test_fuzz_schema.py",  # 87 s
    "tests/e2e/test_install_without_node.py",  # 75 s
    "tests/e2e/test_bench_smoke.py",  # 40 s
    "tests/e2e/test_websocket_protocols.py",  # 28 s
    "tests/unit/test_delta_stateful.py",  # 21 s
    "tests/hostile/test_fuzz_ingest.py",  # 18 s
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` runs in-process when the command line names a single test file (or
    tests of one file): a file runs on one worker anyway, and in-process it starts
    sooner, prints as before and takes ``--pdb``. Otherwise xdist counts the CPUs."""
    files = {str(a).split("::")[0] for a in config.args}
    if len(files) == 1 and next(iter(files)).endswith(".py"):
        return 0
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    last = len(SLOW_FIRST)
    # sorted() is stable: files not listed, and tests within a file, keep their order
    items[:] = sorted(items, key=lambda it: rank.get(it.nodeid.split("::")[0], last))


class _RunLock:
    """The readers-writer lock of one xdist run: two files in the run's base temp folder
    (shared by its workers: each worker's own folder is inside it)."""

    def __init__(self, folder: Path):
        self.main = open(folder / "alone.lock", "a+")  # noqa: SIM115 (held for the session)
        self.gate = open(folder / "alone-gate.lock", "a+")  # noqa: SIM115

    def take(self, mode: int, item: pytest.Item) -> None:
        t0 = time.monotonic()
        fcntl.flock(self.main, fcntl.LOCK_UN)  # never hold the main lock waiting for the gate
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.main, mode)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)
        waited = time.monotonic() - t0
        if waited >= 0.5:  # in --junitxml's properties: what running in parallel cost here
            item.user_properties.append(("waited_for_other_tests_s", round(waited, 1)))

    def release(self) -> None:
        fcntl.flock(self.main, fcntl.LOCK_UN)


def _run_lock(config: pytest.Config) -> _RunLock | None:
    """The run's lock on an xdist worker; None in a run without workers (nothing to share)."""
    if not hasattr(config, "workerinput"):
        return None
    lock = getattr(config, "_graphsvc_run_lock", None)
    if lock is None:
        # xdist gives each worker --basetemp=<the run's base temp>/gwN
        lock = _RunLock(Path(config.getoption("basetemp")).parent)
        config._graphsvc_run_lock = lock  # type: ignore[attr-defined]
    return lock


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    lock = _run_lock(item.config)
    if lock is None:
        return (yield)
    lock.take(fcntl.LOCK_SH, item)
    try:
        return (yield)
    finally:
        lock.release()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    lock = _run_lock(item.config)
    if lock is None or item.get_closest_marker("alone") is None:
        return (yield)
    lock.take(fcntl.LOCK_EX, item)
    try:
        return (yield)
    finally:
        lock.take(fcntl.LOCK_SH, item)  # for its teardown, as any test


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


def need_browser(ok: object, reason: str) -> None:
    """Skip unless ``ok``; with ``GRAPHSVC_REQUIRE_BROWSER=1`` (CI), fail instead: a
    browser test that cannot run there is a failure, not a skip."""
    if not ok:
        if os.environ.get("GRAPHSVC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (GRAPHSVC_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)


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
    program: tuple[str, ...] = (sys.executable, "-m", "graphsvc"),
) -> Iterator[Server]:
    """Start `python -m graphsvc serve [folder] args...` and wait until it answers.

    The server's environment is :func:`clean_env` with a private snapshot folder and
    ``env``. ``preexec_fn`` runs in the child before it starts (e.g. to lower a resource
    limit); ``hooks`` is a call of :mod:`tests.hooks` (``"crash_after_writes(2)"``) made
    in the server process before its command line runs; ``program``: the graphsvc that
    serves (another venv's console script, say)."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    cmd = [*program, "serve"]
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
