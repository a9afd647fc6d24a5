"""Snapshots: a restart uses one only when it is exactly right, and then equals a cold load."""

import dataclasses
import os
import shutil

import pytest

from graphsvc import snapshot
from graphsvc.files import load_corpus
from graphsvc.generate import write_corpus
from graphsvc.graph import build_graph
from graphsvc.startup import load_graph

from ..corpus import article, write


def signature(lg):
    """Everything a graph says: nodes with data, edges with attributes, aliases, issues."""
    nodes = {}
    for n, attrs in lg.g.nodes(data=True):
        nodes[n] = (attrs["kind"], repr(dataclasses.asdict(attrs["data"])))
    edges = {(u, v): dict(a) for u, v, a in lg.g.edges(data=True)}
    return nodes, edges, dict(lg.alias_index), sorted(map(str, lg.issues)), lg.files


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    write_corpus(folder, 120, seed=3)
    write(folder, "bad.md", "title: [unclosed\n")  # a load error travels too
    return folder


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def cold(folder):
    return build_graph(load_corpus(folder, workers=1))


def test_restart_uses_the_snapshot_and_equals_a_cold_load(corpus, cache):
    first = load_graph(corpus, cache_dir=cache)
    assert first.source == "files" and first.snapshot.is_file()
    again = load_graph(corpus, cache_dir=cache)
    assert again.source == "snapshot", again.note
    assert signature(again.graph) == signature(cold(corpus)) == signature(first.graph)
    assert again.graph.stats() == first.graph.stats()


def test_a_snapshot_keeps_the_counted_stats_and_nothing_else_derived(corpus, cache):
    """LinkGraph.__getstate__ keeps ``stats`` (a cold count is a pass over the graph)
    and drops the other derived caches; the graph being saved keeps all of its own."""
    lg = load_graph(corpus, cache_dir=cache).graph
    lg.stats()
    lg.derived.extra("something derived", object)
    path = snapshot.snapshot_path(corpus, cache)
    snapshot.save(path, snapshot.Key(str(corpus)), {"graph": lg})
    assert lg.derived.held() >= {"stats", "something derived"}
    saved = snapshot.load(path, snapshot.Key(str(corpus)))["graph"]
    assert saved.derived.held() == {"stats"}
    assert saved.derived.stats == cold(corpus).stats()
    saved.version += 5  # as a restart behind a newer version renumbers it
    assert saved.stats().version == lg.version + 5


@pytest.mark.parametrize("live", [True, False], ids=["default-mode", "static"])
@pytest.mark.parametrize("change", ["edit", "touch", "add", "remove"])
def test_a_stale_snapshot_is_brought_up_to_date(corpus, cache, change, live):
    """Default mode: the snapshot, then only the changed file read again and applied as a
    delta. Static (its snapshot holds no delta state): a cold load. Both equal a cold load."""
    load_graph(corpus, cache_dir=cache, live=live)
    victim = sorted(corpus.rglob("*.md"))[5]
    if change == "edit":
        victim.write_text(victim.read_text().replace("title: ", "title: Edited ", 1))
    elif change == "touch":  # same size, new mtime
        st = victim.stat()
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "add":
        write(corpus, "new.md", article("https://new.example/a", "A new one"))
    else:
        victim.unlink()
    got = load_graph(corpus, cache_dir=cache, live=live)
    if live:
        assert got.source == "snapshot" and got.reread == 1, got.note
    else:
        assert got.source == "files" and "without delta state" in got.note
    assert signature(got.graph) == signature(cold(corpus))
    if change == "edit":
        assert any((a.title or "").startswith("Edited ") for a in got.graph.iter_articles())
    if not live:
        assert load_graph(corpus, cache_dir=cache).source == "snapshot"  # rewritten


def damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        i = len(data) - 100
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
    elif how == "appended":
        path.write_bytes(data + b"x")
    elif how == "garbage":
        path.write_bytes(os.urandom(5000))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bad-header":
        path.write_bytes(snapshot.MAGIC + b"{not json\n" + data)


@pytest.mark.parametrize(
    "how, reason",
    [
        ("truncated", "truncated"),
        ("flipped", "checksum"),
        ("appended", "too long"),
        ("garbage", "not a graphsvc snapshot"),
        ("empty", "not a graphsvc snapshot"),
        ("bad-header", "unreadable snapshot header"),
    ],
)
def test_a_damaged_snapshot_is_detected_and_rebuilt(corpus, cache, how, reason):
    path = load_graph(corpus, cache_dir=cache).snapshot
    damage(path, how)
    got = load_graph(corpus, cache_dir=cache)
    assert got.source == "files" and reason in got.note
    assert signature(got.graph) == signature(cold(corpus))
    assert load_graph(corpus, cache_dir=cache).source == "snapshot"


def test_a_foreign_snapshot_is_not_trusted(tmp_path, corpus, cache):
    other = tmp_path / "other"
    write_corpus(other, 30, seed=9)
    theirs = load_graph(other, cache_dir=cache).snapshot
    ours = snapshot.snapshot_path(corpus, cache)
    shutil.copy(theirs, ours)  # another corpus's snapshot under our name
    got = load_graph(corpus, cache_dir=cache)
    assert got.source == "files" and "root differs" in got.note
    assert signature(got.graph) == signature(cold(corpus))


def test_a_copied_corpus_gets_its_own_snapshot(tmp_path, corpus, cache):
    load_graph(corpus, cache_dir=cache)
    copy = tmp_path / "copy"
    shutil.copytree(corpus, copy)
    assert load_graph(copy, cache_dir=cache).source == "files"


@pytest.mark.parametrize("field", ["graphsvc", "code", "format"])
def test_a_snapshot_from_another_graphsvc_is_not_trusted(corpus, cache, monkeypatch, field):
    load_graph(corpus, cache_dir=cache)
    if field == "graphsvc":
        monkeypatch.setattr(snapshot, "__version__", "0.0.0-other")
    elif field == "code":
        monkeypatch.setattr(snapshot, "_CODE", "another build")
    else:
        monkeypatch.setattr(snapshot, "FORMAT", snapshot.FORMAT + 1)
    got = load_graph(corpus, cache_dir=cache)
    assert got.source == "files" and f"{field} differs" in got.note


def test_no_cache_neither_reads_nor_writes(corpus, cache):
    got = load_graph(corpus, cache=False, cache_dir=cache)
    assert got.source == "files" and got.snapshot is None and not cache.exists()


def test_an_unwritable_cache_still_loads(corpus, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    got = load_graph(corpus, cache_dir=blocker / "cache")
    assert got.source == "files" and "no snapshot written" in got.note
    assert got.graph.stats().documents == 120


def test_a_large_cold_load_runs_in_a_child_and_serves_the_snapshot(corpus, cache, monkeypatch):
    import graphsvc.corpus.folder as startup

    monkeypatch.setattr(startup, "ISOLATE_MIN_FILES", 1)
    seen = []
    got = load_graph(corpus, cache_dir=cache, progress=seen.append)
    assert got.source == "files" and got.snapshot.is_file()
    assert sum(seen) == 121  # the child reported progress through the pipe
    assert signature(got.graph) == signature(cold(corpus))
    assert load_graph(corpus, cache_dir=cache).source == "snapshot"


@pytest.mark.parametrize("child", [False, True], ids=["here", "in a child"])
def test_a_cold_load_names_its_phases_after_parsing(corpus, cache, monkeypatch, child):
    """The corpus says when it builds the graph and when the snapshot is written (or,
    from a child, read back): what `graphsvc serve` shows as the load's phases."""
    import graphsvc.corpus.folder as folder

    monkeypatch.setattr(folder, "ISOLATE_MIN_FILES", 1 if child else 10**9)
    phases: list[str] = []
    got = folder.folder_corpus(corpus, load=False, cache=True, cache_dir=cache).load(
        on_phase=phases.append
    )
    assert got.source == "files" and phases == ["graph", "snapshot"], phases
    assert (
        folder.folder_corpus(corpus, load=False, cache=True, cache_dir=cache)
        .load(on_phase=phases.append)
        .source
        == "snapshot"
    )
    assert phases == ["graph", "snapshot"]  # a start from the snapshot builds nothing


def test_a_failing_child_falls_back_to_loading_here(corpus, cache, monkeypatch):
    import graphsvc.corpus.folder as startup

    monkeypatch.setattr(startup, "ISOLATE_MIN_FILES", 1)

    parent, save = os.getpid(), startup.snapshot.save

    def broken_in_child(*args):
        if os.getpid() != parent:
            raise MemoryError("pretend")
        return save(*args)

    monkeypatch.setattr(startup.snapshot, "save", broken_in_child)
    got = load_graph(corpus, cache_dir=cache)
    assert got.source == "files" and "child process failed" in got.note
    assert signature(got.graph) == signature(cold(corpus))


def test_the_code_fingerprint_is_the_running_codes(corpus, cache, monkeypatch):
    """Taken when the corpus object is made, before any child is forked: source files
    that change on disk later (an upgrade while serving; seen when a benchmark's server
    ran from a tree being edited) must not make the cold-load child's fresh snapshot
    look foreign to its parent, which then loaded all of 770k files again itself."""
    import graphsvc.corpus.folder as live

    monkeypatch.setattr(live, "ISOLATE_MIN_FILES", 1)
    monkeypatch.setattr(snapshot, "_CODE", None)
    lc = live.folder_corpus(corpus, load=False, cache=True, cache_dir=cache)
    running = snapshot._CODE
    assert running is not None
    monkeypatch.setattr(snapshot, "__version__", "an upgrade on disk")
    got = lc.load()
    assert got.source == "files" and "not usable" not in (got.note or ""), got.note
    assert snapshot.code_fingerprint() == running
