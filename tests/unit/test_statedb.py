"""The delta state's SQLite file: off the heap, cleaned up, consistent on failure."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from graphsvc.generate import generate_records
from graphsvc.graph import statedb
from graphsvc.graph.delta import GraphState

from ..graphcompare import assert_same, describe
from .test_delta import _cold


def _files(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(statedb.PREFIX))


def test_a_killed_owner_leaves_a_file_the_next_start_removes(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        from graphsvc.graph.statedb import StateDB
        db = StateDB({str(tmp_path)!r})
        print(db.path, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    dead = proc.stdout.readline().strip()
    live = statedb.StateDB(tmp_path)
    old = time.time() - 3600
    os.utime(live.path, (old, old))
    assert statedb.sweep(tmp_path) == 0  # both are held: nothing goes
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    os.utime(dead, (old, old))
    assert os.path.basename(dead) in _files(tmp_path)  # SIGKILL: no clean-up ran
    assert statedb.sweep(tmp_path) == 1
    assert _files(tmp_path) == [os.path.basename(live.path)]
    live.close()
    assert _files(tmp_path) == []


def test_state_pickles_with_its_database_and_goes_on_applying(tmp_path):
    recs = {r.path: r for r in generate_records(80, seed=3)}
    st = GraphState(str(tmp_path))
    lg = st.apply(None, dict(recs), files=len(recs))
    copy = pickle.loads(pickle.dumps(st))
    assert copy.db.path != st.db.path and len(copy.records) == len(recs)
    paths = sorted(recs)
    change = {paths[0]: None, paths[1]: None}
    a = st.apply(lg, change, files=len(recs) - 2)
    b = copy.apply(lg, change, files=len(recs) - 2)
    assert describe(a) == describe(b)
    st.close()
    copy.close()
    assert _files(tmp_path) == []


class Boom(Exception):
    pass


class Exploding(list):
    """A related list that raises on its ``fail_at``-th iteration (never with 0)."""

    uses = 0
    fail_at = 0

    def __iter__(self):
        Exploding.uses += 1
        if Exploding.uses == Exploding.fail_at:
            raise Boom
        return super().__iter__()


def _memory(st: GraphState) -> tuple:
    return (
        dict(st.counts),
        {k: dict(v) for k, v in st.prov_totals.items()},
        dict(st.file_issues),
        dict(st.warns),
        st.files,
    )


def test_a_failed_delta_changes_nothing(tmp_path):
    recs = {r.path: r for r in generate_records(60, seed=4)}
    st = GraphState(str(tmp_path))
    lg = st.apply(None, dict(recs), files=len(recs))
    paths = sorted(recs)
    bad = copy.deepcopy(recs[paths[2]])
    bad.related = Exploding(bad.related)
    bad.provider = None
    bad.topics = ["a topic of its own"]
    change = {paths[0]: None, paths[1]: None, paths[2]: bad}
    # A dry run on a copy counts the list's uses: fail at the last, deep in the delta.
    Exploding.uses, Exploding.fail_at = 0, 0
    pickle.loads(pickle.dumps(st)).apply(lg, dict(change), files=len(recs) - 2)
    assert Exploding.uses >= 3
    before = (st.db.dump(), _memory(st))
    Exploding.fail_at, Exploding.uses = Exploding.uses, 0
    with pytest.raises(Boom):
        st.apply(lg, change, files=len(recs) - 2)
    assert (st.db.dump(), _memory(st)) == before
    # And the state goes on as if the failed delta never was: equal to a cold build.
    del recs[paths[0]]
    lg2 = st.apply(lg, {paths[0]: None}, files=len(recs))
    cold = _cold(recs)
    assert_same(lg2, cold)
    assert dataclasses.replace(lg2.stats(), version=0) == dataclasses.replace(
        cold.stats(), version=0
    )
    st.close()


def test_old_versions_are_freed_by_reference_counting_alone(tmp_path):
    """Each version replaces the last; none waits for the cyclic collector (which the
    server keeps off the graph: gc.freeze) even when networkx cached its views on it."""
    import gc
    import weakref

    from graphsvc.graph.current import GraphStore

    recs = {r.path: r for r in generate_records(60, seed=6)}
    st = GraphState(str(tmp_path))
    store = GraphStore(st.apply(None, dict(recs), files=len(recs)))
    paths = sorted(recs)
    gone = []
    collections = []
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    gc.callbacks.append(lambda phase, info: collections.append(info) if phase == "start" else 0)
    try:
        for i in range(20):
            old = store.current
            old.g.edges, old.g.degree, old.g.in_degree  # noqa: B018 - views that point back
            gone.append(weakref.ref(old.g))
            rec = copy.deepcopy(recs[paths[i]])
            rec.title = f"version {i}"
            new = st.apply(old, {paths[i]: rec}, files=len(recs))
            del old
            store.swap(new)
        assert [r() is None for r in gone] == [True] * len(gone)
        assert collections == []  # not one collection (swapping never runs one)
    finally:
        gc.callbacks.pop()
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        st.close()


def test_sweep_removes_an_unlocked_file_just_made_and_spares_a_held_one(tmp_path):
    """The lock decides, not the age: a supervisor restarts a server within 100 ms, and
    what its last run left must not wait a minute (and fill the disk meanwhile)."""
    left = tmp_path / f"{statedb.PREFIX}left{statedb.SUFFIX}"
    left.write_bytes(b"\0" * 4096)  # just now
    live = statedb.StateDB(tmp_path)  # its start sweeps
    assert _files(tmp_path) == [os.path.basename(live.path)]
    assert statedb.sweep(tmp_path) == 0  # held
    live.close()
    assert _files(tmp_path) == []
