"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temporary
folder, 127.0.0.1 on a free port plus a Unix socket in that folder, stopped at the end.

The server refuses to run as root, so when the tests run as root the cluster belongs to
an unprivileged user (``postgres`` when it exists, else ``nobody``) and its commands run
through ``runuser``. Without PostgreSQL the tests that need it skip, unless
``GRAPHSVC_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes them fail.

Connections use password authentication over TCP (scram-sha-256): the test session's
``PGPASSFILE`` names a ``.pgpass`` in the cluster folder, so no URL carries a password.
``cluster.stop()`` / ``cluster.start()`` take the server away and back for fault tests.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_ENV = "GRAPHSVC_REQUIRE_POSTGRES"
#: The role graphsvc connects as: owner of each test database, nothing more.
APP_ROLE = "graphsvc"
APP_PASSWORD = "graphsvc-test-pw-5f1c"
ADMIN_ROLE = "pgadmin"
ADMIN_PASSWORD = "admin-test-pw-91ab"


def find_bindir() -> str | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's newest version."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return os.path.dirname(found)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    for d in reversed(candidates):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str | None:
    """None when not root; else a user the server may run as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "graphsvc-pg"], check=True)
    return "graphsvc-pg"


class Cluster:
    """One PostgreSQL server under ``base``."""

    def __init__(self, bindir: str, base: Path, user: str | None):
        self.bindir, self.base, self.user = bindir, base, user
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.logfile = base / "server.log"
        self.passfile = base / "pgpass"
        self.port = _free_port()
        self._names = itertools.count(1)

    # -- running commands as the cluster's owner ------------------------------------
    def _run(self, *cmd: str, check: bool = True, timeout: float = 120):
        argv = [os.path.join(self.bindir, cmd[0]), *cmd[1:]]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(
            argv, check=check, capture_output=True, text=True, timeout=timeout, cwd=self.base
        )

    def init(self) -> None:
        self.sockets.mkdir()
        pwfile = self.base / "admin-pw"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if self.user:
            u = pwd.getpwnam(self.user)
            for p in (self.base, self.sockets, pwfile):
                os.chown(p, u.pw_uid, u.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            ADMIN_ROLE,
            f"--pwfile={pwfile}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write(
                "\n# graphsvc tests: a throwaway cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.sockets}'\n"
                "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
                "max_connections = 200\nshared_buffers = 32MB\n"
                "log_min_messages = warning\n"
            )
        # The .pgpass of the test session (mode 0600, owned by the tests' user).
        self.passfile.write_text(
            f"127.0.0.1:{self.port}:*:{APP_ROLE}:{APP_PASSWORD}\n"
            f"127.0.0.1:{self.port}:*:{ADMIN_ROLE}:{ADMIN_PASSWORD}\n"
            f"{self.sockets}:{self.port}:*:{APP_ROLE}:{APP_PASSWORD}\n"
            f"{self.sockets}:{self.port}:*:{ADMIN_ROLE}:{ADMIN_PASSWORD}\n"
        )
        os.chmod(self.passfile, 0o600)

    def start(self, timeout: float = 60) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", str(int(timeout)),
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, ``immediate``: like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    # -- URLs and databases ---------------------------------------------------------
    def url(self, db: str = "postgres", user: str = APP_ROLE) -> str:
        """A URL without a password (it comes from PGPASSFILE)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def socket_url(self, db: str = "postgres", user: str = APP_ROLE) -> str:
        return f"postgresql://{user}@/{db}?host={self.sockets}&port={self.port}"

    def admin(self, sql: str, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(db, ADMIN_ROLE), autocommit=True) as conn:
            conn.execute(sql)

    def setup_roles(self) -> None:
        # The app role may log in and nothing else: it owns the databases made for it.
        self.admin(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")

    def new_database(self) -> str:
        """A fresh database owned by the app role; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
        self.admin(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
        return self.url(name)


def _unavailable(why: str):
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but {why}")
    pytest.skip(f"PostgreSQL not available: {why}")


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start a cluster in a new temporary folder; stop and remove it on exit. Raises
    :class:`Unavailable` when PostgreSQL is missing or does not start."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed") from None
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
    user = _unprivileged_user()
    # Not under pytest's tmp folder: that is private to root, and the server's user must
    # reach its data folder.
    base = Path(tempfile.mkdtemp(prefix="graphsvc-pg-"))
    cluster = Cluster(bindir, base, user)
    old_passfile = os.environ.get("PGPASSFILE")
    try:
        cluster.init()
        cluster.start()
        os.environ["PGPASSFILE"] = str(cluster.passfile)
        cluster.setup_roles()
    except Exception as e:
        detail = getattr(e, "stderr", "") or ""
        log = cluster.log()
        with contextlib.suppress(Exception):
            if cluster.running():
                cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        raise Unavailable(f"the test cluster did not start: {e} {detail}\n{log}") from None
    try:
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        if old_passfile is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = old_passfile
        shutil.rmtree(base, ignore_errors=True)


class Unavailable(Exception):
    pass


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A running throwaway cluster for the whole session (see the module's docstring)."""
    try:
        cm = throwaway_cluster()
        cluster = cm.__enter__()
    except Unavailable as e:
        _unavailable(str(e))
    try:
        yield cluster
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty database for one test (the cluster is started if a test stopped it)."""
    if not pg_cluster.running():
        pg_cluster.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            return pg_cluster.new_database()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
