"""Default-mode restarts: from the snapshot, changed files applied as deltas; always equal
to a cold load. Unchanged, changed (100 files), truncated and foreign snapshots."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from graphsvc import snapshot
from graphsvc.corpus import folder_corpus
from graphsvc.files import load_corpus
from graphsvc.generate import write_corpus
from graphsvc.graph import build_graph

from ..conftest import serve
from ..corpus import article, write
from ..graphcompare import assert_same
from ..livetools import title_of, wait_for


def cold(folder):
    return build_graph(load_corpus(folder, workers=1))


def restart(folder, cache):
    live = folder_corpus(folder, load=False, cache=True, cache_dir=cache)
    return live, live.load(workers=1)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    write_corpus(folder, 300, seed=4)
    write(folder, "bad.md", "title: [unclosed\n")
    return folder


def edit_files(folder, n):
    """Change ``n`` files: titles edited, one removed, one added. (A file that breaks keeps
    its last good version, which a cold load cannot know: tests/unit/test_delta_stateful.py.)"""
    files = sorted(folder.rglob("*.md"))[:: max(1, 300 // n)][: n - 1]
    for i, f in enumerate(files[:-1]):
        f.write_text(f.read_text().replace("title: ", f"title: Edited {i} ", 1))
    files[-1].unlink()
    write(folder, "brand-new.md", article("https://new.example/a", "A new one"))
    return files


def test_unchanged_and_changed_restarts_equal_a_cold_load(corpus, tmp_path):
    cache = tmp_path / "cache"
    first, info = restart(corpus, cache)
    assert info.source == "files"
    assert_same(first.graph, cold(corpus))
    first.close()

    again, info = restart(corpus, cache)
    assert info.source == "snapshot" and info.reread == 0, info.note
    assert_same(again.graph, cold(corpus))

    edit_files(corpus, 100)
    third, info = restart(corpus, cache)
    assert info.source == "snapshot" and info.reread == 100, (info.reread, info.note)
    assert_same(third.graph, cold(corpus))
    assert any((a.title or "").startswith("Edited ") for a in third.graph.iter_articles())
    third.close()  # the deltas applied since: the snapshot is written again

    fourth, info = restart(corpus, cache)
    assert info.source == "snapshot" and info.reread == 0
    assert_same(fourth.graph, cold(corpus))


def test_changes_made_while_following_are_in_the_next_snapshot(corpus, tmp_path):
    cache = tmp_path / "cache"
    live, _ = restart(corpus, cache)
    write(corpus, "later.md", article("https://later.example/a", "Later"))
    live.refresh([str(corpus / "later.md")])
    live.close()
    again, info = restart(corpus, cache)
    assert info.source == "snapshot" and info.reread == 0
    assert again.graph.article("https://later.example/a").title == "Later"
    assert_same(again.graph, cold(corpus))


def sidecars(path):
    return sorted(p.name for p in path.parent.glob(path.name + ".*.state"))


def test_the_state_database_is_a_file_beside_the_snapshot(corpus, tmp_path):
    """The delta state is not inside the pickle (SQLite cannot serialize past 2 GB): a
    file named in the header with its size, and each new snapshot removes the last one's."""
    cache = tmp_path / "cache"
    live, _ = restart(corpus, cache)
    path = live.snapshot_path
    data = path.read_bytes()
    header = json.loads(data.split(b"\n", 2)[1])
    (name,) = sidecars(path)
    assert header["sidecar"]["name"] == name
    assert header["sidecar"]["bytes"] == (path.parent / name).stat().st_size > 0
    assert b"SQLite format 3" not in data  # no database image in the payload
    for i in range(3):  # new snapshots: one state file at a time, the new one
        write(corpus, "later.md", article("https://later.example/a", f"Later {i}"))
        live.refresh([str(corpus / "later.md")])
        live.save_snapshot()
        (now,) = sidecars(path)
        assert now != name
        name = now
    live.close()
    again, info = restart(corpus, cache)
    assert info.source == "snapshot" and info.reread == 0, info.note
    assert_same(again.graph, cold(corpus))
    again.close()


@pytest.mark.parametrize(
    "how",
    ["truncated", "foreign", "corrupt", "static"]
    + ["state-truncated", "state-corrupt", "state-missing", "state-older"],
)
def test_a_bad_snapshot_is_rebuilt_and_equals_a_cold_load(corpus, tmp_path, how):
    cache = tmp_path / "cache"
    live, _ = restart(corpus, cache)
    path = live.snapshot_path
    data = path.read_bytes()
    (side,) = [path.parent / n for n in sidecars(path)]
    if how == "state-truncated":
        side.write_bytes(side.read_bytes()[:-4096])
    elif how == "state-corrupt":
        b = bytearray(side.read_bytes())
        b[len(b) // 2] ^= 0xFF
        side.write_bytes(bytes(b))
    elif how == "state-missing":
        side.unlink()
    elif how == "state-older":  # an older state file under the name the snapshot gives
        older = side.read_bytes()
        write(corpus, "later.md", article("https://later.example/a", "Later"))
        live.refresh([str(corpus / "later.md")])
        live.save_snapshot()
        data = path.read_bytes()
        (path.parent / sidecars(path)[0]).write_bytes(older)
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "corrupt":
        path.write_bytes(data[:-50] + bytes(50))
    elif how == "foreign":
        other = tmp_path / "other"
        write_corpus(other, 20, seed=8)
        theirs, _ = restart(other, cache)
        shutil.copy(theirs.snapshot_path, path)
    else:  # written by a read-only server: no delta state
        folder_corpus(corpus, cache=True, cache_dir=tmp_path / "c2", keep_state=False)
        shutil.copy(snapshot.snapshot_path(corpus, tmp_path / "c2"), path)
    edit_files(corpus, 10)
    again, info = restart(corpus, cache)
    assert info.source == "files", info
    assert info.note
    if how.startswith("state-"):
        assert "state file" in info.note, info.note
    assert_same(again.graph, cold(corpus))
    third, info = restart(corpus, cache)  # and the snapshot was written again
    assert info.source == "snapshot" and info.reread == 0


def test_serve_restarts_from_its_snapshot(corpus, tmp_path):
    """A real `graphsvc serve DIR` (default mode): an edit while serving, a stop, a start
    from the snapshot written at shutdown, files changed while it was down applied."""
    url = "https://restart.example/a"
    write(corpus, "r.md", article(url, "Before"))
    with serve(corpus, tmp=tmp_path) as s:
        # Ready means following: the watcher had caught up before /readyz said 200.
        assert "caught up, watching for changes" in s.logs()
        write(corpus, "r.md", article(url, "While serving"))
        wait_for(lambda: title_of(s, url) == "While serving", what="edit shows", server=s)
    write(corpus, "down.md", article("https://restart.example/down", "While down"))
    with serve(corpus, tmp=tmp_path) as s:
        assert title_of(s, url) == "While serving"
        assert title_of(s, "https://restart.example/down") == "While down"
        stats = s.data(
            "{ stats { articles documents stubs providers topics relatedEdges "
            "loadErrors loadWarnings files } }"
        )["stats"]
        logs = s.logs()
    assert "from snapshot" in logs and "1 files changed since the snapshot" in logs, logs
    want = cold(corpus).stats()
    assert stats == {
        "articles": want.articles, "documents": want.documents, "stubs": want.stubs,
        "providers": want.providers, "topics": want.topics, "relatedEdges": want.related_edges,
        "loadErrors": want.load_errors, "loadWarnings": want.load_warnings, "files": want.files,
    }  # fmt: skip
    assert os.listdir(tmp_path / "cache")
