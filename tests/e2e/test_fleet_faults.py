"""The store misbehaving under a fleet of real `graphsvc serve --store` replicas: a backup
restored with the real `pg_dump`/`pg_restore` (the store goes back in time and is written
again), and a PostgreSQL that hangs (its processes SIGSTOPped) while replicas write."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from contextlib import ExitStack

import httpx
import psycopg
import pytest
import yaml

from tests.conftest import serve
from tests.corpus import article
from tests.e2e.test_fleet import ENV, readyz, snapshot
from tests.livetools import AUTH, UPSERT, input_for, title_of, upsert, version, wait_for

pytest_plugins = ["tests.e2e.test_fleet"]  # its `corpus` and `imported` fixtures


def pg_tool(cluster, name: str, *args: str) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client program beside the cluster's initdb, as the app role."""
    bindir = os.path.dirname(os.path.realpath(os.path.join(cluster.bindir, "initdb")))
    r = subprocess.run(
        [os.path.join(bindir, name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},  # PGPASSFILE: the test session's
    )
    assert r.returncode == 0, r.stderr
    return r


def put_direct(url: str, files: dict[str, tuple[str, str]]) -> int:
    """Write articles straight into the store (no replica): {path: (url, title)}."""
    from graphsvc.store import PgStore

    with PgStore(url).writing() as txn:
        for path, (u, title) in files.items():
            fm = yaml.safe_dump(article(u, title), sort_keys=False)
            txn.put(path, f"---\n{fm}---\n".encode())
    return txn.committed


def store_titles(url: str) -> dict[str, str]:
    """What the store holds now: {webUrl: title}, read from its files."""
    from graphsvc.store import PgStore

    out = {}
    with PgStore(url).reading() as snap:
        for _, content in snap.files():
            text = content.decode("utf-8", "replace")
            if not text.startswith("---\n"):
                continue
            try:
                fm = yaml.safe_load(text.split("---\n", 2)[1])
            except yaml.YAMLError:
                continue
            if isinstance(fm, dict) and fm.get("webUrl"):
                out[fm["webUrl"]] = fm.get("title")
    return out


def test_a_restored_backup_never_makes_a_replica_serve_a_mix(pg_cluster, imported, tmp_path):
    """Writes, a `pg_dump`, more writes (every replica has them; B's snapshot holds
    them), then the dump restored with `pg_restore --clean` and new writes made with the
    same version numbers. A replica restarted from its snapshot (B), one following all
    along (A: it sees the head go back, and restarts itself), and one frozen through the
    restore and the new writes (C: it wakes to a store ahead of it whose history is not
    its own) each end serving exactly what the store holds, the graph of a cold load."""
    db = imported.rsplit("/", 1)[1]
    env = {n: {**ENV, "GRAPHSVC_CACHE_DIR": str(tmp_path / f"{n}-cache")} for n in "abc"}
    dump = tmp_path / "store.dump"
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=env["a"]))
        c = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=env["c"]))
        fast = ("--snapshot-interval", "0.2")  # B's snapshot follows its versions
        with serve(None, "--store", imported, *fast, tmp=tmp_path, env=env["b"]) as b:
            for i in range(2):
                upsert(a, input_for(f"https://fleet.example/kept{i}", f"Kept {i}"))
            pg_tool(pg_cluster, "pg_dump", "-Fc", "-f", str(dump), imported)
            dumped = version(a)
            for i in range(3):
                upsert(a, input_for(f"https://fleet.example/lost{i}", f"Lost {i}"))
            upsert(a, input_for("https://fleet.example/kept0", "Kept 0, edited later"))
            lost_at = version(a)
            for r in (b, c):
                wait_for(lambda r=r: version(r) == lost_at, timeout=5, what="every replica")
            time.sleep(1)  # B writes its snapshot of version `lost_at`
        # B stopped: its snapshot holds version `lost_at`. C is frozen meanwhile.
        c.proc.send_signal(signal.SIGSTOP)
        try:
            pg_tool(pg_cluster, "pg_restore", "--clean", "--if-exists", "--single-transaction",
                    "--no-owner", "-d", imported, str(dump))  # fmt: skip
            wait_for(
                lambda: "restarting" in a.logs(), timeout=10, what="A notices the head went back"
            )
            # New writes take the numbers the lost ones had, and one more.
            news = [
                put_direct(imported, {f"new{i}.md": (f"https://fleet.example/new{i}", f"New {i}")})
                for i in range(lost_at - dumped + 1)
            ]
        finally:
            c.proc.send_signal(signal.SIGCONT)
        head = news[-1]
        assert head == lost_at + 1, (news, lost_at)
        want_titles = store_titles(imported)
        assert "https://fleet.example/lost0" not in want_titles
        assert want_titles["https://fleet.example/kept0"] == "Kept 0"
        b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=env["b"]))
        got = readyz(b)
        assert got["start"] == "store" and "restored" in got["startNote"], got
        for r in (a, c):
            wait_for(
                lambda r=r: _answering(r) and version(r) == head,
                timeout=30,
                what="the replica at the store's version",
            )
        assert "reloading the store" in c.logs()
        cold = stack.enter_context(serve(None, "--store", imported, "--no-cache", tmp=tmp_path))
        want = snapshot(cold)
        for r in (a, b, c):
            assert version(r) == head
            assert snapshot(r) == want
            assert title_of(r, "https://fleet.example/lost0") is None
            assert title_of(r, "https://fleet.example/new0") == "New 0"
            assert title_of(r, "https://fleet.example/kept0") == "Kept 0"
            store = readyz(r)["store"]
            assert store["connected"] and store["lagVersions"] == 0, store
        # Writes go on through every replica, and every replica follows.
        w = upsert(a, input_for("https://fleet.example/after", "After"))
        for r in (b, c):
            wait_for(lambda r=r: version(r) == w["version"], timeout=5, what="following again")
    assert db  # the database the dump came from is the one restored


# -- a hung store -------------------------------------------------------------------------
def cluster_pids(cluster) -> list[int]:
    """The postmaster and every process it started (backends, background workers)."""
    master = int((cluster.data / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == master:
            pids.append(int(entry))
    return pids


@contextlib.contextmanager
def frozen(cluster):
    """SIGSTOP the whole server (it keeps its sockets: the kernel still acknowledges every
    packet, so nothing on the client side notices by itself); SIGCONT at the end."""
    pids = cluster_pids(cluster)
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        yield pids
    finally:
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGCONT)


def _answering(server) -> bool:
    """/readyz says ready; False, not an error, while a replica that restarts itself in
    place (os.execv, same port) has its port closed for a moment."""
    try:
        return server.client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def in_store(url: str, web_url: str) -> bool:
    return web_url in store_titles(url)


@pytest.mark.alone
def test_a_hung_store_fails_writes_within_their_limit_and_readyz_says_so(
    pg_cluster, imported, tmp_path
):
    """With every PostgreSQL process SIGSTOPped, a write on a replica that holds a
    connection answers within its limit with STORE_UNAVAILABLE (nothing changed), or says
    it may have been applied and which version to check; /readyz says the store is not
    connected within a few seconds (and stays 200: reads go on). After SIGCONT the store and the replica agree with what the client was told,
    and writes work again."""
    limit = 2.0
    with serve(
        None, "--store", imported, "--store-write-timeout", str(limit), tmp=tmp_path, env=ENV
    ) as a:
        upsert(a, input_for("https://fleet.example/warm", "Warm"))  # a write connection held
        before = version(a)
        assert a.client.get("/readyz").status_code == 200
        url = "https://fleet.example/hung"
        with frozen(pg_cluster):
            t0 = time.monotonic()
            body = a.gql(UPSERT, {"input": input_for(url, "During")}, headers=AUTH)
            took = time.monotonic() - t0
            t1 = time.monotonic()
            wait_for(
                lambda: a.client.get("/readyz").json()["store"]["connected"] is False,
                timeout=6,
                what="/readyz: store not connected",
            )
            turned = time.monotonic() - t1
            ready = a.client.get("/readyz")
            assert title_of(a, "https://fleet.example/warm") == "Warm"  # reads go on
        assert took < limit + 1.5, took
        err = body["errors"][0]
        assert err["extensions"]["code"] == "STORE_UNAVAILABLE", body
        assert "internal error" not in err["message"]
        maybe = err["extensions"].get("maybeApplied", False)
        assert ("did not answer within" in err["message"]) and (
            maybe or "nothing was changed" in err["message"]
        ), err
        assert ready.status_code == 200 and "did not answer" in ready.json()["degraded"]
        store = ready.json()["store"]
        assert store["connected"] is False and "did not answer" in (store["error"] or ""), store
        # The server runs again: what the client was told holds, in the store and on A.
        wait_for(
            lambda: a.client.get("/readyz").json()["store"]["connected"], timeout=15, what="back"
        )
        if maybe:
            applied = in_store(imported, url)
            assert err["extensions"]["version"] == before + 1
        else:
            applied = False
            time.sleep(1)  # the server had the statements queued: it reads them, then the EOF
            assert not in_store(imported, url)
        wait_for(lambda: (title_of(a, url) is not None) == applied, timeout=5, what="agree")
        w = upsert(a, input_for(url, "After"))
        assert w["article"]["title"] == "After"
        assert in_store(imported, url)
        print(f"write answered in {took:.2f} s; /readyz said so after {turned:.2f} s more")


@pytest.mark.alone
def test_a_commit_that_gets_no_answer_says_which_version_to_check(pg_url):
    """The COMMIT is sent and no answer comes within the limit (a deferred trigger keeps
    the server busy at commit): the write fails saying the outcome is unknown and naming
    the version to check; the server goes on and commits, and the store then holds that
    version: told "may have been applied", never a false "nothing was changed"."""
    from graphsvc.errors import StoreUnavailable
    from graphsvc.store import PgStore
    from graphsvc.store.pg import abort_after

    pg = PgStore(pg_url)
    pg.migrate()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON graphsvc_head"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
        )
    conn = pg.connect()
    t0 = time.monotonic()
    try:
        with (
            pytest.raises(StoreUnavailable) as caught,
            abort_after(conn, 0.7) as cut,
            pg.writing(conn) as txn,
        ):
            txn.put("a.md", b"---\nwebUrl: https://fleet.example/c\n---\n")
    finally:
        conn.close()
    assert time.monotonic() - t0 < 1.5
    assert cut.fired
    e = caught.value
    assert e.maybe_committed and e.version == 1, e
    assert "may or may not have been applied" in str(e) and "version 1" in str(e)
    wait_for(lambda: pg.head() == 1, timeout=5, what="the commit, applied after all")
