"""The PostgreSQL store against a real server: schema, exact content, the change log and
its order under concurrent writers (the commit-order pitfall, provoked on purpose)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from graphsvc.errors import StoreError, StoreUnavailable
from graphsvc.store import PgStore, StoreFeed
from graphsvc.store.pg import SCHEMA_VERSION

ARTICLE = b"---\ntitle: A\nwebUrl: https://a.example/x\nmood: 3\n---\nBody \xff bytes\r\n"


def store(url: str) -> PgStore:
    pg = PgStore(url)
    pg.migrate()
    return pg


def put(pg: PgStore, path: str, content: bytes) -> int:
    with pg.writing() as txn:
        txn.put(path, content)
    return txn.committed


def test_schema_is_created_once_and_a_newer_one_refused(pg_url):
    pg = store(pg_url)
    assert pg.migrate() == SCHEMA_VERSION  # again: nothing to do
    assert pg.head() == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE graphsvc_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this graphsvc understands"):
        pg.migrate()
    with pytest.raises(StoreError, match="newer"), pg.reading():
        pass


def test_content_round_trips_byte_for_byte(pg_url):
    pg = store(pg_url)
    v = put(pg, "sub/a.md", ARTICLE)
    assert v == 1
    with pg.reading() as snap:
        assert snap.version == 1 and snap.count == 1
        assert list(snap.files()) == [("sub/a.md", ARTICLE)]


def test_no_op_write_uses_no_version(pg_url):
    pg = store(pg_url)
    with pg.writing() as txn:
        pass
    assert txn.committed is None and pg.head() == 0
    put(pg, "a.md", ARTICLE)
    with pg.writing() as txn:
        txn.put("b.md", ARTICLE)
        txn.ops.clear()  # decided against it: rolled back, the version given back
    assert txn.committed is None and pg.head() == 1
    assert put(pg, "b.md", ARTICLE) == 2


def test_log_holds_every_version_in_order(pg_url):
    pg = store(pg_url)
    put(pg, "a.md", ARTICLE)
    with pg.writing() as txn:
        txn.put("b.md", ARTICLE.replace(b"/x", b"/y"))
        txn.delete("a.md")
    with pg.connect(autocommit=True) as conn:
        batches = pg.read_log(conn, 0, None)
    assert [b.version for b in batches] == [1, 2]
    assert [(e.path, e.content is None) for e in batches[1].entries] == [
        ("a.md", True),
        ("b.md", False),
    ]
    with pg.reading() as snap:
        assert [p for p, _ in snap.files()] == ["b.md"]


def test_a_late_commit_is_never_skipped(pg_url):
    """Writer A takes the next version and waits; writer B starts later and wants to
    commit; a reader polls the log meanwhile. The reader must see A's change, then B's,
    exactly once each, however the two interleave."""
    pg = store(pg_url)
    seen: list[int] = []
    a_has_version = threading.Event()
    b_done = threading.Event()
    release_a = threading.Event()

    def writer_a():
        with pg.writing() as txn:
            txn.put("a.md", ARTICLE)
            a_has_version.set()
            release_a.wait(10)

    def writer_b():
        a_has_version.wait(10)
        put(pg, "b.md", ARTICLE.replace(b"/x", b"/y"))
        b_done.set()

    ta, tb = threading.Thread(target=writer_a), threading.Thread(target=writer_b)
    ta.start()
    tb.start()
    assert a_has_version.wait(10)
    last, token = 0, None
    with pg.connect(autocommit=True) as conn:
        # While A holds its version, B cannot commit ahead of it, and nothing is visible.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for batch in pg.read_log(conn, last, token):
                seen.append(batch.version)
                last, token = batch.version, batch.token
            time.sleep(0.02)
        assert not b_done.is_set(), "B committed while A held the lower version"
        assert seen == []
        release_a.set()
        ta.join(10)
        tb.join(10)
        assert b_done.is_set()
        for batch in pg.read_log(conn, last, token):
            seen.append(batch.version)
            last, token = batch.version, batch.token
    assert seen == [1, 2]
    with pg.reading() as snap:
        assert snap.version == 2


def test_the_pitfall_is_real_with_a_plain_sequence(pg_url):
    """Without the serialising head row, a reader asking for "ids above the last seen"
    does skip a late commit: this is what the test above would catch."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE naive (id bigserial PRIMARY KEY, what text)")
    a = psycopg.connect(pg_url)
    b = psycopg.connect(pg_url, autocommit=True)
    reader = psycopg.connect(pg_url, autocommit=True)
    try:
        a.execute("INSERT INTO naive (what) VALUES ('a')")  # takes id 1, not committed
        b.execute("INSERT INTO naive (what) VALUES ('b')")  # takes id 2, commits
        seen = [r[0] for r in reader.execute("SELECT id FROM naive WHERE id > 0 ORDER BY id")]
        assert seen == [2]
        a.commit()
        later = [r[0] for r in reader.execute("SELECT id FROM naive WHERE id > 2 ORDER BY id")]
        assert later == []  # id 1 was skipped for good
    finally:
        for c in (a, b, reader):
            c.close()


def test_concurrent_writers_never_skip_or_repeat(pg_url):
    """Many writers on several connections; a follower sees versions 1..n exactly once."""
    pg = store(pg_url)
    source = StoreFeed(pg)
    got: list[int] = []
    source.start(0, lambda delta: got.append(delta.version))
    try:

        def writer(w: int):
            for i in range(15):
                put(pg, f"w{w}-{i}.md", ARTICLE.replace(b"/x", f"/{w}/{i}".encode()))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        deadline = time.monotonic() + 10
        while len(got) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        source.stop()
    assert got == list(range(1, 61))


def test_expected_version_sees_changes_and_deletes(pg_url):
    pg = store(pg_url)
    put(pg, "a.md", ARTICLE)
    with pg.writing() as txn:
        assert txn.changed_after(["https://a.example/x"], 0) == 1
        assert txn.changed_after(["https://a.example/x"], 1) is None
        txn.delete("a.md")
    with pg.writing() as txn:
        assert txn.changed_after(["https://a.example/x"], 1) == 2  # the delete counts
        assert txn.files_for(["https://a.example/x"]) == {}


def test_writes_fail_fast_when_the_store_is_down(pg_cluster, pg_url):
    pg = store(pg_url)
    pg_cluster.stop()
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailable, match="unavailable") as e:
            put(pg, "a.md", ARTICLE)
        assert time.monotonic() - t0 < 3
        assert "graphsvc-test-pw" not in str(e.value)
    finally:
        pg_cluster.start()
    assert put(pg, "a.md", ARTICLE) == 1


def test_parallel_parse_equals_serial():
    from graphsvc.files.loader import PARALLEL_MIN_FILES
    from graphsvc.store.feed import parse_all

    n = PARALLEL_MIN_FILES + 7
    files = [(f"f{i:05d}.md", ARTICLE.replace(b"/x", f"/{i}".encode())) for i in range(n)]
    files[5] = ("f00005.md", b"not front matter")
    done: list[int] = []
    par = parse_all(iter(files), n, progress=done.append, workers=2)
    ser = parse_all(iter(files), n, workers=1)
    assert list(par) == [p for p, _ in files]
    assert par == ser and sum(done) == n
    assert par["f00005.md"][0] is None and par["f00005.md"][1]


def test_prune_deletes_history_keeps_current_content_and_refuses_old_readers(pg_url):
    from graphsvc.errors import LogPruned

    pg = store(pg_url)
    put(pg, "a.md", ARTICLE)  # 1: current until the end
    for i in range(2, 7):  # 2..6: b.md rewritten each time
        put(pg, "b.md", ARTICLE.replace(b"/x", b"/b%d" % i))
    with pg.writing() as txn:  # 7: c.md written and deleted again at 8
        txn.put("c.md", ARTICLE.replace(b"/x", b"/c"))
    with pg.writing() as txn:
        txn.delete("c.md")
    assert pg.prune(keep=2, min_age=3600).deleted == 0  # all of it is younger than that
    with pg.connect(autocommit=True) as conn:
        token = {b.version: b.token for b in pg.read_log(conn, 0, None, 100)}
    done = pg.prune(keep=2)
    assert (done.horizon, done.head) == (6, 8)
    assert done.deleted == 4 and done.kept_current == 2  # b.md at 2..5 gone; a.md@1, b.md@6 kept
    with pg.connect(autocommit=True) as conn:
        with pytest.raises(LogPruned, match="pruned up to version 6"):
            pg.read_log(conn, 5, token[5])
        assert [b.version for b in pg.read_log(conn, 6, token[6])] == [7, 8]
    with pg.reading() as snap:  # the bulk read still has every file's content
        assert [(p, c == ARTICLE) for p, c in snap.files()] == [("a.md", True), ("b.md", False)]
    assert pg.head_row().pruned == 6
    assert pg.prune(keep=5).horizon == 6  # never backwards
    # A follower behind the horizon without a way to reload stops with the reason.
    src = StoreFeed(pg)
    with pytest.raises(LogPruned):
        src.replay(3, token[3], lambda d: None)
    assert src.replay(6, token[6], lambda d: None) == 2
