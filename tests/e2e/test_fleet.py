"""A fleet of real `graphsvc serve --store` replicas on the test PostgreSQL cluster:
import, serve, export, writes through any replica, conflicts, and the store going away."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.conftest import SEEDS, clean_env, serve
from tests.corpus import article, item, write
from tests.livetools import (
    AUTH,
    DELETE,
    TOKEN,
    UPSERT,
    UPSERT_MANY,
    WSClient,
    errors,
    input_for,
    title_of,
    upsert,
    version,
    wait_for,
)
from tests.pgtools import APP_ROLE

ENV = {"GRAPHSVC_TOKEN": TOKEN}

SNAPSHOT = """{
  stats { files articles documents stubs providers topics relatedEdges loadErrors loadWarnings }
  loadReport { path line message severity }
  articles(first: 1000, orderBy: PUBLISHED_AT_ASC) {
    nodes { url title isStub aliases sources body extra provider { name domain }
            topics { name } related { url } }
  }
  providers(first: 1000) { nodes { domain name articleCount } }
}"""


def graphsvc(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(**(env or {})),
        cwd=cwd,
    )


def make_corpus(folder: Path) -> Path:
    """The seeds plus files that exercise the rules: a duplicate, a stub, a broken file,
    unknown keys, a body, a nested folder."""
    shutil.copytree(SEEDS, folder)
    write(
        folder,
        "a.md",
        article(
            "https://fleet.example/a",
            "Alpha &amp; co",
            related=[item("https://fleet.example/stub"), item("https://fleet.example/b")],
            mood="sunny",
        ),
        "Body of A\n",
    )
    write(folder, "sub/b.md", article("https://fleet.example/b", "Beta"), "B")
    write(
        folder,
        "sub/b-again.md",
        article("https://fleet.example/b", "Beta older", date="2020-01-01T00:00:00Z"),
    )
    write(folder, "broken.md", "title: [unclosed\n")
    (folder / "bytes.md").write_bytes(
        b"---\ntitle: Bytes \xff\nwebUrl: https://fleet.example/bytes\n---\n\xfe body\r\n"
    )
    return folder


def snapshot(server) -> dict:
    return server.data(SNAPSHOT)


@pytest.fixture
def corpus(tmp_path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture(scope="module")
def imported_template(pg_cluster, tmp_path_factory) -> str:
    """The corpus of :func:`make_corpus` imported once per module with `graphsvc import`;
    :func:`imported` copies it for each test (a copy takes a fraction of an import)."""
    url = pg_cluster.new_database()
    r = graphsvc(
        "import", str(make_corpus(tmp_path_factory.mktemp("fleet") / "corpus")), "--store", url
    )
    assert r.returncode == 1, r.stderr  # broken.md is an error, as `validate` says
    return url.rsplit("/", 1)[1]


@pytest.fixture
def imported(pg_url, pg_cluster, corpus, imported_template) -> str:
    """A fresh database holding ``corpus`` as `graphsvc import` left it: a copy of
    :func:`imported_template` (the same files), made under ``pg_url``'s name."""
    name = pg_url.rsplit("/", 1)[1]
    pg_cluster.admin(f"DROP DATABASE {name}")
    pg_cluster.admin(f"CREATE DATABASE {name} TEMPLATE {imported_template} OWNER {APP_ROLE}")
    pg_cluster.admin(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
    return pg_url


def test_import_reports_like_validate_and_reruns_change_only_what_changed(pg_url, corpus):
    first = graphsvc("import", str(corpus), "--store", pg_url)
    validate = graphsvc("validate", str(corpus))
    assert first.stdout == validate.stdout
    assert "broken.md" in first.stdout
    assert "7 files written, 0 deleted, 0 unchanged (store version 1)" in first.stderr
    again = graphsvc("import", str(corpus), "--store", pg_url)
    assert "0 files written, 0 deleted, 7 unchanged (no new version)" in again.stderr
    write(corpus, "sub/b.md", article("https://fleet.example/b", "Beta 2"))
    (corpus / "bytes.md").unlink()
    third = graphsvc("import", str(corpus), "--store", pg_url)
    assert "1 files written, 1 deleted, 5 unchanged (store version 2)" in third.stderr
    assert "graphsvc-test-pw" not in first.stderr + third.stderr


def test_served_store_equals_a_cold_folder_load(imported, corpus, tmp_path):
    with ExitStack() as stack:
        folder = stack.enter_context(serve(corpus, "--no-watch", tmp=tmp_path))
        replica = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path))
        assert snapshot(replica) == snapshot(folder)
        assert version(replica) == 1  # the store's version, not the replica's own count


def test_export_round_trips_every_byte(imported, corpus, tmp_path):
    out = tmp_path / "out"
    r = graphsvc("export", str(out), "--format", "frontmatter", "--store", imported)
    assert r.returncode == 0, r.stderr
    want = {p.relative_to(corpus): p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
    got = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == want
    again = graphsvc("export", str(out), "--store", imported)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_a_newer_schema_is_refused_clearly(pg_url, tmp_path):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE graphsvc_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO graphsvc_schema VALUES (99)")
    r = graphsvc("serve", "--store", pg_url, "--port", "1")
    assert r.returncode == 2
    assert "schema version 99, newer than this graphsvc understands" in r.stderr
    r = graphsvc("import", str(SEEDS), "--store", pg_url)
    assert r.returncode == 2 and "newer than this graphsvc" in r.stderr


@pytest.mark.alone
def test_writes_on_each_replica_reach_every_replica(imported, tmp_path):
    with ExitStack() as stack:
        reps = [
            stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
            for _ in range(3)
        ]
        subs = []
        for r in reps:
            ws = WSClient(r.base)
            ws.subscribe("1", "subscription { graphChanged { version added changed removed } }")
            subs.append(ws)
        time.sleep(0.3)  # subscriptions registered
        versions = []
        for i, r in enumerate(reps):
            url = f"https://fleet.example/new{i}"
            w = upsert(r, input_for(url, f"New {i}"))
            assert w["created"] and w["article"]["title"] == f"New {i}"  # read-your-writes
            assert version(r) >= w["version"]
            versions.append(w["version"])
            t0 = time.monotonic()
            for other in reps:
                wait_for(
                    lambda o=other, u=url, n=i: title_of(o, u) == f"New {n}",
                    timeout=1.0,
                    what=f"write {i} on every replica",
                )
            assert time.monotonic() - t0 < 1.0
        assert versions == [2, 3, 4]
        snaps = [snapshot(r) for r in reps]
        assert snaps[0] == snaps[1] == snaps[2]
        assert {version(r) for r in reps} == {4}
        for ws in subs:
            got = [ws.next("1")["data"]["graphChanged"]["version"] for _ in range(3)]
            assert got == [2, 3, 4]
            ws.close()
        # A cold replica started now has the same graph.
        cold = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path))
        assert snapshot(cold) == snaps[0] and version(cold) == 4


def test_updates_and_deletes_write_the_articles_own_files(imported, tmp_path):
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        w = upsert(a, input_for("https://fleet.example/b", "Beta rewritten"))
        assert not w["created"] and w["paths"] == ["sub/b-again.md", "sub/b.md"]
        body = a.gql(DELETE, {"url": "https://fleet.example/a"}, headers=AUTH)
        assert "errors" not in body, body
        assert body["data"]["deleteArticle"]["paths"] == ["a.md"]
        v = body["data"]["deleteArticle"]["version"]
        wait_for(lambda: version(b) == v, timeout=1.0, what="the delete on B")
        assert title_of(b, "https://fleet.example/a") is None
        assert snapshot(a) == snapshot(b)
        # Nothing written without the token; a stub has no file to delete.
        assert errors(a.gql(UPSERT, {"input": input_for("https://x.example/1", "X")}))
        stub = a.gql(
            DELETE,
            {"url": "https://techxplore.com/news/2021-05-blurred-lines-recognition.html"},
            headers=AUTH,
        )
        assert "is a stub" in errors(stub)[0]


def test_expected_version_stops_a_silent_overwrite(imported, tmp_path):
    url = "https://fleet.example/b"
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        read_at = version(a)
        first = upsert(a, input_for(url, "From A", expectedVersion=read_at))
        # B read the same version and writes without knowing of A's write: refused.
        body = b.gql(
            UPSERT, {"input": input_for(url, "From B", expectedVersion=read_at)}, headers=AUTH
        )
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
        assert f"changed after version {read_at}" in body["errors"][0]["message"]
        wait_for(lambda: title_of(b, url) == "From A", timeout=1.0, what="A's write on B")
        # Read again, retry with that version: accepted.
        upsert(b, input_for(url, "From B", expectedVersion=first["version"]))
        # Without expectedVersion the last write wins.
        upsert(a, input_for(url, "Last"))
        wait_for(lambda: title_of(b, url) == "Last", timeout=1.0, what="last write")
        # Unrelated articles do not conflict.
        upsert(a, input_for("https://fleet.example/new", "N", expectedVersion=read_at))


def test_concurrent_writers_to_one_article(imported, tmp_path):
    """Writers on two replicas race on one article with expectedVersion: exactly one of
    each pair of writes made at the same version wins."""
    url = "https://fleet.example/b"
    with ExitStack() as stack:
        reps = [
            stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
            for _ in range(2)
        ]
        for round_ in range(5):
            v = max(version(r) for r in reps)
            wait_for(
                lambda v=v: all(version(r) == v for r in reps), timeout=1.0, what="same version"
            )
            results: list[dict] = [None, None]

            def go(i, v=v, round_=round_, results=results):
                results[i] = reps[i].gql(
                    UPSERT,
                    {"input": input_for(url, f"R{round_} W{i}", expectedVersion=v)},
                    headers=AUTH,
                )

            threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            codes = sorted(
                "ok" if "errors" not in r else r["errors"][0]["extensions"]["code"] for r in results
            )
            assert codes == ["CONFLICT", "ok"], results
            winner = next(r for r in results if "errors" not in r)["data"]["upsertArticle"]
            for r in reps:
                wait_for(
                    lambda r=r, w=winner: title_of(r, url) == w["article"]["title"],
                    timeout=1.0,
                    what="winner",
                )


def test_store_stopped_and_started_during_writes(pg_cluster, imported, tmp_path):
    url = "https://fleet.example/fault"
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        upsert(a, input_for(url, "before"))
        before = version(a)
        wait_for(lambda: version(b) == before, timeout=1.0, what="B current")
        pg_cluster.stop()
        try:
            # Replicas keep serving their last version.
            for r in (a, b):
                assert title_of(r, url) == "before"
            t0 = time.monotonic()
            body = a.gql(UPSERT, {"input": input_for(url, "during")}, headers=AUTH)
            assert time.monotonic() - t0 < 5
            assert body["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE", body
            assert "graphsvc-test-pw" not in str(body)
            metrics = wait_for(
                lambda: (
                    "graphsvc_store_connected 0.0" in b.client.get("/metrics").text
                    and b.client.get("/metrics").text
                ),
                what="B reports the store lost",
            )
            assert "graphsvc-test-pw" not in metrics
            ready = b.client.get("/readyz")
            assert ready.status_code == 200  # still serving its last version
            store = ready.json()["store"]
            assert store["connected"] is False and store["disconnectedSince"]
            assert store["appliedVersion"] == before
            assert "graphsvc-test-pw" not in ready.text
        finally:
            pg_cluster.start()
        assert title_of(a, url) == "before"  # the failed write changed nothing
        # Writes work again at once; both replicas catch up by themselves.
        w = wait_for(
            lambda: (
                "errors"
                not in (body := a.gql(UPSERT, {"input": input_for(url, "after")}, headers=AUTH))
                and body
            ),
            timeout=10,
            what="writes back",
        )
        v = w["data"]["upsertArticle"]["version"]
        assert v == before + 1
        wait_for(
            lambda: version(b) == v and title_of(b, url) == "after", timeout=10, what="B caught up"
        )
        wait_for(
            lambda: "graphsvc_store_connected 1.0" in b.client.get("/metrics").text,
            timeout=10,
            what="B reconnected",
        )
        assert "graphsvc_store_lag_versions 0.0" in b.client.get("/metrics").text
        store = b.client.get("/readyz").json()["store"]
        assert store["connected"] and store["lagVersions"] == 0 and store["appliedVersion"] == v


KILLED_WRITER = """
import os, signal, sys
from graphsvc.store import PgStore
pg = PgStore(sys.argv[1])
with pg.writing() as txn:
    for i in range(50):
        txn.put(f"batch/{i:03d}.md", b"---\\nwebUrl: https://kill.example/%d\\n---\\n" % i)
    txn._flush()  # every row written, not committed
    print("flushed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_batch_leaves_nothing(imported, tmp_path):
    before = store_head(imported)
    r = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, imported], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == -9 and "flushed" in r.stdout, r.stderr
    # The server notices the dead client and rolls its transaction back.
    wait_for(lambda: store_head(imported) == before, what="the killed writer's rollback")
    with psycopg.connect(imported) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM graphsvc_files WHERE path LIKE 'batch/%'"
        ).fetchone()
        (logged,) = conn.execute(
            "SELECT count(*) FROM graphsvc_log WHERE path LIKE 'batch/%'"
        ).fetchone()
    assert (n, logged) == (0, 0)
    # The next writer gets the version the dead one held: no gap, nothing skipped.
    from graphsvc.store import PgStore

    with PgStore(imported).writing() as txn:
        txn.put("after.md", b"---\nwebUrl: https://kill.example/after\n---\n")
    assert txn.committed == before + 1


def store_head(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        # Waiting on the head row's lock means a writer is still in flight.
        conn.execute("SET lock_timeout = '200ms'")
        try:
            (v,) = conn.execute("SELECT version FROM graphsvc_head FOR UPDATE").fetchone()
        except psycopg.errors.LockNotAvailable:
            return -1
        return v


def test_a_batch_is_all_or_nothing_through_the_api(imported, tmp_path):
    with serve(None, "--store", imported, tmp=tmp_path, env=ENV) as a:
        v = version(a)
        good = input_for("https://fleet.example/ok", "OK")
        bad = input_for("https://fleet.example/bad", "Bad", quality=None, excerpt=None)
        bad["webUrl"] = "not a url"
        body = a.gql(UPSERT_MANY, {"inputs": [good, bad]}, headers=AUTH)
        assert body.get("errors"), body
        assert version(a) == v and title_of(a, "https://fleet.example/ok") is None
        body = a.gql(
            UPSERT_MANY,
            {"inputs": [good, input_for("https://fleet.example/ok2", "OK2")]},
            headers=AUTH,
        )
        assert "errors" not in body, body
        assert {w["version"] for w in body["data"]["upsertArticles"]} == {v + 1}  # one version


def readyz(server) -> dict:
    return server.client.get("/readyz").json()


def test_a_replica_killed_mid_stream_restarts_from_its_snapshot_and_the_log(imported, tmp_path):
    """SIGKILL a replica during a stream of writes: restarted, it installs the snapshot it
    wrote while following and replays only the log after it (no bulk read), and ends with
    the graph a cold load of the store gives."""
    own = {**ENV, "GRAPHSVC_CACHE_DIR": str(tmp_path / "b-cache")}
    fast = ("--snapshot-interval", "0.2")
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        b = stack.enter_context(serve(None, "--store", imported, *fast, tmp=tmp_path, env=own))
        assert readyz(b)["start"] == "store"  # nothing to start from yet
        stop = threading.Event()
        done: list[int] = []

        def writes():
            i = 0
            while not stop.is_set() and i < 300:
                done.append(upsert(a, input_for(f"https://fleet.example/s{i}", f"S{i}"))["version"])
                i += 1

        t = threading.Thread(target=writes)
        t.start()
        try:
            wait_for(lambda: len(done) >= 20, timeout=30, what="writes under way")
            time.sleep(0.6)  # B writes its snapshot again (every 0.2 s while versions come)
            b.proc.kill()
            b.proc.wait()
            killed_at = version(a)  # B held at most this when it died
            time.sleep(0.5)  # writes go on while B is down
            b2 = stack.enter_context(serve(None, "--store", imported, *fast, tmp=tmp_path, env=own))
            started = readyz(b2)
            time.sleep(0.3)
        finally:
            stop.set()
            t.join(60)
        assert started["start"] == "snapshot+log", started
        assert started["replayed"] > 0, started  # versions made while it was down
        assert started["snapshotVersion"] + started["replayed"] == started["startVersion"]
        # It started from a snapshot written while following, not the one of its bulk read.
        assert 1 < started["snapshotVersion"] <= killed_at, (started, killed_at)
        last = done[-1]
        wait_for(lambda: version(b2) == last, timeout=5, what="the restarted replica current")
        cold = stack.enter_context(serve(None, "--store", imported, "--no-cache", tmp=tmp_path))
        assert readyz(cold)["start"] == "store"
        assert snapshot(b2) == snapshot(cold) == snapshot(a)
        assert version(cold) == last


def test_a_foreign_or_damaged_snapshot_means_a_full_load(pg_cluster, corpus, imported, tmp_path):
    """A snapshot is used only for the store that wrote it: a second store imported from
    the same folder (same files, same version) has another identity; a damaged snapshot
    is not used either. Both starts read the store whole and serve the right graph."""
    from graphsvc.corpus.postgres import store_snapshot_path
    from graphsvc.store import PgStore

    other = pg_cluster.new_database()
    assert graphsvc("import", str(corpus), "--store", other).returncode == 1
    cache = tmp_path / "cache-x"
    env = {"GRAPHSVC_CACHE_DIR": str(cache)}
    with serve(None, "--store", imported, tmp=tmp_path, env=env) as r:
        want = snapshot(r)
    mine = store_snapshot_path(PgStore(imported).head_row().store_id, cache)
    theirs = store_snapshot_path(PgStore(other).head_row().store_id, cache)
    assert mine.exists() and mine != theirs  # written at shutdown, named by the store's id
    with serve(None, "--store", imported, tmp=tmp_path, env=env) as r:
        assert readyz(r)["start"] == "snapshot+log" and readyz(r)["replayed"] == 0
    theirs.write_bytes(mine.read_bytes())  # store 1's snapshot where store 2's would be
    with serve(None, "--store", other, tmp=tmp_path, env=env) as r:
        got = readyz(r)
        assert got["start"] == "store" and "store differs" in got["startNote"], got
        assert snapshot(r) == want
    data = bytearray(mine.read_bytes())
    data[-100] ^= 0xFF
    mine.write_bytes(bytes(data))
    with serve(None, "--store", imported, tmp=tmp_path, env=env) as r:
        got = readyz(r)
        assert got["start"] == "store" and "corrupt" in got["startNote"], got
        assert snapshot(r) == want


@pytest.mark.alone  # a reloaded replica follows a write within 2 s
def test_prune_keeps_what_replicas_need_and_a_replica_behind_it_loads_whole(imported, tmp_path):
    """`graphsvc store prune --keep N`: a replica whose snapshot is older than the kept
    log loads the store whole; one stopped (SIGSTOP) while the log is pruned past it
    reloads by itself when it wakes; the store keeps every file's content."""
    env_b = {**ENV, "GRAPHSVC_CACHE_DIR": str(tmp_path / "b-cache")}
    env_c = {**ENV, "GRAPHSVC_CACHE_DIR": str(tmp_path / "c-cache")}
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        with serve(None, "--store", imported, tmp=tmp_path, env=env_b) as b:
            old = version(b)  # B's snapshot, written at shutdown, holds this version
        c = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=env_c))
        c.proc.send_signal(signal.SIGSTOP)  # C is cut off (not dead) meanwhile
        try:
            for i in range(6):
                upsert(a, input_for(f"https://fleet.example/p{i}", f"P{i}"))
            upsert(a, input_for("https://fleet.example/p0", "P0 again"))
            a.gql(DELETE, {"url": "https://fleet.example/p1"}, headers=AUTH)
            head = version(a)
            r = graphsvc("store", "prune", "--keep", "2", "--min-age", "0", "--store", imported)
            assert r.returncode == 0, r.stderr
            assert f"the log holds every version after {head - 2}" in r.stderr, r.stderr
            # Only the newest 2 versions are whole; older rows that are current content stay.
            with psycopg.connect(imported) as conn:
                (oldest,) = conn.execute(
                    "SELECT min(version) FROM graphsvc_log l WHERE NOT EXISTS (SELECT 1 FROM"
                    " graphsvc_files f WHERE (f.version, f.seq) = (l.version, l.seq))"
                ).fetchone()
            assert oldest > head - 2
            # A replica with a snapshot older than that cannot replay: it loads whole.
            b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=env_b))
            got = readyz(b)
            assert got["start"] == "store" and "pruned up to version" in got["startNote"], got
            assert old < head - 2
        finally:
            c.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: version(c) == head, timeout=10, what="C reloaded after the prune")
        assert "reloading the store" in c.logs()
        assert snapshot(a) == snapshot(b) == snapshot(c)
        assert title_of(c, "https://fleet.example/p0") == "P0 again"
        assert title_of(c, "https://fleet.example/p1") is None
        # An expectedVersion older than the kept log is a conflict, never a guess.
        # (A was written at version 1 and not since: only the pruned log could tell.)
        stale = input_for("https://fleet.example/a", "A edited", expectedVersion=old)
        body = a.gql(UPSERT, {"input": stale}, headers=AUTH)
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
        assert "older than the store's log keeps" in body["errors"][0]["message"]
        # Writes and replicas go on as before; a second prune with nothing to do is a no-op.
        w = upsert(b, input_for("https://fleet.example/after", "After"))
        wait_for(lambda: version(c) == w["version"], timeout=2, what="C follows again")
        r = graphsvc("store", "prune", "--keep", "100", "--store", imported)
        assert r.returncode == 0 and "0 rows deleted" in r.stderr, r.stderr
    out = tmp_path / "out"
    assert graphsvc("export", str(out), "--store", imported).returncode == 0
    assert (out / "a.md").exists()  # content written before the horizon is still there


def test_password_from_a_file_a_socket_and_the_environment(pg_cluster, imported, tmp_path):
    from tests.pgtools import APP_PASSWORD

    pwfile = tmp_path / "pw"
    pwfile.write_text(APP_PASSWORD + "\n")
    pwfile.chmod(0o600)
    db = imported.rsplit("/", 1)[1]
    env = {
        "PGPASSFILE": str(tmp_path / "none"),
        "GRAPHSVC_STORE": pg_cluster.socket_url(db),
        "GRAPHSVC_STORE_PASSWORD_FILE": str(pwfile),
    }
    with serve(None, tmp=tmp_path, env=env) as r:
        assert version(r) == 1
        assert "graphsvc-test-pw" not in r.logs()
    bad = graphsvc(
        "import", str(SEEDS), env={**env, "GRAPHSVC_STORE_PASSWORD_FILE": str(tmp_path / "missing")}
    )
    assert bad.returncode == 2 and "password file" in bad.stderr


def test_least_privileges(pg_cluster, imported, tmp_path):
    """A writer role with only SELECT/INSERT/UPDATE/DELETE on graphsvc's tables writes;
    a reader role with only SELECT serves and follows, and its writes are refused."""
    db = imported.rsplit("/", 1)[1]
    tables = "graphsvc_files, graphsvc_log, graphsvc_head"
    for role, grants in (
        ("gs_writer", [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO gs_writer",
                       "GRANT SELECT ON graphsvc_schema TO gs_writer"]),
        ("gs_reader", [f"GRANT SELECT ON {tables}, graphsvc_schema TO gs_reader"]),
    ):  # fmt: skip
        pg_cluster.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
        pg_cluster.admin(f"GRANT CONNECT ON DATABASE {db} TO {role}")
        for g in grants:
            pg_cluster.admin(g, db)
    pwfile = tmp_path / "pgpass"
    pwfile.write_text(
        f"127.0.0.1:{pg_cluster.port}:*:gs_writer:pw-gs_writer\n"
        f"127.0.0.1:{pg_cluster.port}:*:gs_reader:pw-gs_reader\n"
    )
    pwfile.chmod(0o600)
    env = {**ENV, "PGPASSFILE": str(pwfile)}
    with ExitStack() as stack:
        w = stack.enter_context(
            serve(None, "--store", pg_cluster.url(db, "gs_writer"), tmp=tmp_path, env=env)
        )
        r = stack.enter_context(
            serve(None, "--store", pg_cluster.url(db, "gs_reader"), tmp=tmp_path, env=env)
        )
        done = upsert(w, input_for("https://fleet.example/priv", "Priv"))
        wait_for(lambda: version(r) == done["version"], timeout=1.0, what="the reader follows")
        body = r.gql(
            UPSERT, {"input": input_for("https://fleet.example/priv2", "No")}, headers=AUTH
        )
        assert body["errors"][0]["extensions"]["code"] == "STORE_REFUSED", body
        assert "permission denied" in body["errors"][0]["message"]
        assert version(r) == done["version"]


def test_clear_errors_for_bad_addresses_and_missing_privileges(pg_cluster, pg_url, tmp_path):
    r = graphsvc("import", str(SEEDS), "--store", "host=x password=s3cret-pw dbname")
    assert r.returncode == 2 and "cannot be read as a PostgreSQL URL" in r.stderr
    assert "s3cret-pw" not in r.stderr
    # A role that may not create tables, on an empty database: says so, exit 2.
    db = pg_url.rsplit("/", 1)[1]
    pg_cluster.admin("CREATE ROLE gs_nocreate LOGIN PASSWORD 'pw-nocreate'")
    pg_cluster.admin(f"GRANT CONNECT ON DATABASE {db} TO gs_nocreate")
    pg_cluster.admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC", db)
    pwfile = tmp_path / "pgpass"
    pwfile.write_text(f"127.0.0.1:{pg_cluster.port}:*:gs_nocreate:pw-nocreate\n")
    pwfile.chmod(0o600)
    url = pg_cluster.url(db, "gs_nocreate")
    r = graphsvc("serve", "--store", url, "--port", "1", env={"PGPASSFILE": str(pwfile)})
    assert r.returncode == 2 and "cannot set up graphsvc's tables" in r.stderr, r.stderr
    r = graphsvc("serve", str(SEEDS), "--store", url)
    assert r.returncode == 2 and "not both" in r.stderr


def test_a_replica_started_while_the_store_is_down_waits_for_it(pg_cluster, imported, tmp_path):
    pg_cluster.stop()
    try:
        with serve(None, "--store", imported, tmp=tmp_path, env=ENV, ready="/healthz") as r:
            time.sleep(1)
            ready = r.client.get("/readyz")
            assert ready.status_code == 503 and "graphsvc-test-pw" not in ready.text
            pg_cluster.start()
            wait_for(lambda: r.client.get("/readyz").status_code == 200, timeout=20, what="ready")
            assert version(r) == 1
            assert "retrying" in r.logs()
    finally:
        if not pg_cluster.running():
            pg_cluster.start()


def test_import_watch_follows_the_folder_into_the_store(pg_url, corpus, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphsvc", "import", str(corpus), "--store", pg_url, "--watch"],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "watch.log", "wb"),  # noqa: SIM115
    )
    try:
        wait_for(
            lambda: "following" in (tmp_path / "watch.log").read_text(), timeout=30, what="watching"
        )
        with serve(None, "--store", pg_url, tmp=tmp_path) as r:
            v = version(r)
            write(corpus, "sub/b.md", article("https://fleet.example/b", "Beta via the folder"))
            wait_for(
                lambda: title_of(r, "https://fleet.example/b") == "Beta via the folder",
                timeout=10,
                what="a folder edit in the store",
            )
            shutil.rmtree(corpus / "sub")
            wait_for(
                lambda: title_of(r, "https://fleet.example/b") == "Related https://fleet.example/b",
                timeout=10,
                what="a removed folder gone from the store",
            )
            write(corpus, "new/c.md", article("https://fleet.example/c", "Gamma"))
            wait_for(
                lambda: title_of(r, "https://fleet.example/c") == "Gamma",
                timeout=10,
                what="a new folder in the store",
            )
            assert version(r) >= v + 3
            cold = tmp_path / "cold"
            assert graphsvc("export", str(cold), "--store", pg_url).returncode == 0
            want = {p.relative_to(corpus): p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
            assert {
                p.relative_to(cold): p.read_bytes() for p in cold.rglob("*") if p.is_file()
            } == want
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_stream_of_writes_and_reads_through_a_store_restart(pg_cluster, imported, tmp_path):
    """Writes on A and reads on B while PostgreSQL stops and starts: reads never fail,
    every write either answers (and is then on both replicas) or fails with
    STORE_UNAVAILABLE (and is on neither), and B's subscriber gets every version once,
    in order."""
    with ExitStack() as stack:
        a = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        b = stack.enter_context(serve(None, "--store", imported, tmp=tmp_path, env=ENV))
        ws = WSClient(b.base)
        ws.subscribe("1", "subscription { graphChanged { version } }")
        time.sleep(0.3)
        start = version(b)
        stop = threading.Event()
        ok: dict[str, int] = {}
        failed: list[str] = []
        unknown: list[str] = []
        read_errors: list = []

        def writer():
            i = 0
            while not stop.is_set():
                url = f"https://fleet.example/stream{i}"
                body = a.gql(UPSERT, {"input": input_for(url, f"T{i}")}, headers=AUTH)
                if "errors" in body:
                    e = body["errors"][0]
                    assert e["extensions"]["code"] == "STORE_UNAVAILABLE", body
                    (unknown if "may or may not" in e["message"] else failed).append(url)
                    time.sleep(0.05)
                else:
                    ok[url] = body["data"]["upsertArticle"]["version"]
                i += 1

        def reader():
            while not stop.is_set():
                body = b.gql("{ stats { version articles } }")
                if "errors" in body:
                    read_errors.append(body)

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        pg_cluster.stop()
        # One write made surely inside the outage (the writer thread may be waiting out
        # the outage inside one write whose version it cannot see yet).
        url = "https://fleet.example/stream-outage"
        body = a.gql(UPSERT, {"input": input_for(url, "outage")}, headers=AUTH)
        assert body["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE", body
        failed.append(url)
        time.sleep(2)
        pg_cluster.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(60)
        assert not read_errors, read_errors[:3]
        assert len(ok) >= 4
        last = max(ok.values())
        for r in (a, b):
            wait_for(lambda r=r: version(r) == last, timeout=10, what="caught up")
        for r in (a, b):
            for url, _ in ok.items():
                assert title_of(r, url) is not None, url
            for url in failed:
                assert title_of(r, url) is None, url
        got = [
            ws.next("1", timeout=10)["data"]["graphChanged"]["version"] for _ in range(last - start)
        ]
        assert got == list(range(start + 1, last + 1))
        ws.close()
