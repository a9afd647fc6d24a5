"""The search index under live edits, in memory: the first-page shortcut (``top``) agrees
with the full ranking (``search``), and the index the deltas left answers like one built
afresh from the same graph.

The edits go the way a live corpus makes them (``GraphState.apply``, then
``live.diff`` for the keys the ``Change`` names, then ``SearchIndex.note``), on a
generated corpus of a few thousand articles whose every word is in many of them.

tantivy keeps a deleted document in its BM25 statistics (document count, document
frequencies, field lengths) until a merge drops it, so after deltas the scores are
close to a fresh build's, not equal; the hits and counts are always equal, and after a
compaction (the index built anew) so are the scores and the order.
"""

from __future__ import annotations

import copy
import random
import threading

import numpy as np
import pytest

from graphsvc.corpus import diff
from graphsvc.generate import _WORDS, generate_records
from graphsvc.graph import search as gs
from graphsvc.graph.delta import GraphState

FILES = 2500
STEPS = 40


def _queries(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        a, b, c = rng.sample(_WORDS, 3)
        out.append([a, f"{a} {b}", f"{a[:3]}*", f'"{a} {b}"', f"{a} -{b}", f"{b} {c[:4]}*"][i % 6])
    return out + ["zzqx", "pokémon", "edited", "edited " + _WORDS[0]]


class Corpus:
    """A generated corpus edited the way a live one is, its index following."""

    def __init__(self, seed: int, files: int = FILES, sync: bool = True) -> None:
        self.rng = random.Random(seed)
        self.recs = {r.path: r for r in generate_records(files, seed=seed)}
        self.st = GraphState()
        self.lg = self.st.apply(None, dict(self.recs), files=len(self.recs), root="/corpus")
        self.index = gs.SearchIndex()
        if sync:
            self.index.sync(self.lg)
        self.builds: list[int] = []
        real = self.index.rebuild
        self.index.rebuild = lambda g: (self.builds.append(g.version), real(g))[1]
        self.step = 0

    def _edit(self) -> dict:
        """A few file changes: retitled, re-worded excerpts and bodies, retopiced,
        deleted, new files (copies of others under a new URL)."""
        rng, ch = self.rng, {}
        paths = sorted(self.recs)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            p = rng.choice(paths)
            if op < 0.15:
                ch[p] = None
                continue
            r = copy.deepcopy(self.recs[p])
            words = " ".join(rng.choices(_WORDS, k=rng.randint(2, 8)))
            if op < 0.35:
                r.title = f"Edited {words} {self.step}"
            elif op < 0.55:
                r.excerpt = f"{words} Pokémon {self.step}"
            elif op < 0.7:
                r.body = f"<p>{words} &amp; {words}</p>"
            elif op < 0.8:
                r.topics = rng.sample(["AI", "Cloud", "Edited", "Privacy"], 2)
            else:  # a new file: another URL, the same words
                r.urls = {"webUrl": f"https://new.example/{self.step}/{rng.randint(0, 10**6)}"}
                r.related = []
                r.path = p = f"new/{self.step}-{rng.randint(0, 10**6)}.md"
            ch[p] = r
        return ch

    def advance(self, steps: int, sync: bool = True) -> None:
        for _ in range(steps):
            self.step += 1
            ch = self._edit()
            recs = self.recs
            touched = [recs[p] for p in ch if p in recs]
            touched += [r for r in ch.values() if r is not None]
            for p, r in ch.items():
                if r is None:
                    recs.pop(p, None)
                else:
                    recs[p] = r
            old = self.lg
            new = self.st.apply(old, ch, files=len(recs))
            added, changed, removed = diff(old, new, touched, self.st.last_touched)
            self.index.note(new.version, (*added, *changed, *removed))
            self.lg = new  # published after the index heard of it, as live does
            if sync:
                self.index.sync(self.lg)


def _ranked(index: gs.SearchIndex, lg, q: str) -> tuple[list[str], list[float]]:
    h = index.search(lg, q)
    return h.keys, h.scores.tolist()


def _top_agrees(index: gs.SearchIndex, lg, q: str, k: int) -> bool:
    """``top(k)`` is the full ranking's first ``k``, same scores; False: it declined,
    which it may only do for a tie at the cut."""
    full = index.search(lg, q)
    top = index.top(lg, q, k)
    if top is None:
        s = full.scores
        assert len(s) > k and s[k - 1] == s[min(len(s) - 1, k + 7)], q
        return False
    assert top.keys == full.keys[:k], q
    assert top.scores.tolist() == full.scores[:k].tolist(), q
    assert top.total is None and index.count(lg, q) == len(full), q
    counted = index.top(lg, q, k, count=True)  # the count in the same pass
    assert counted.keys == top.keys and counted.scores.tolist() == top.scores.tolist(), q
    assert counted.total == len(full), q
    return True


def _same_hits(index: gs.SearchIndex, fresh: gs.SearchIndex, lg, qs, rtol: float) -> None:
    """The same hits and counts as ``fresh``; every score within ``rtol`` of its."""
    for q in qs:
        keys, scores = _ranked(index, lg, q)
        want_keys, want_scores = _ranked(fresh, lg, q)
        assert sorted(keys) == sorted(want_keys), q  # no stale or missing document
        assert index.count(lg, q) == fresh.count(lg, q) == len(want_keys), q
        mine = dict(zip(keys, scores, strict=True))
        got = np.array([mine[k] for k in want_keys])
        assert np.allclose(got, want_scores, rtol=rtol, atol=0), q


def _same_answers(index: gs.SearchIndex, fresh: gs.SearchIndex, lg, qs) -> None:
    """Exactly ``fresh``'s ranking (keys in order, scores) and snippets."""
    for q in qs:
        assert _ranked(index, lg, q) == _ranked(fresh, lg, q), q
        page = _ranked(fresh, lg, q)[0][:5]
        assert index.snippets(q, page) == fresh.snippets(q, page), q


@pytest.fixture(scope="module")
def edited():
    """A corpus after STEPS versions of deltas, searched now and then between them."""
    c = Corpus(5)
    qs = _queries(c.rng, 30)
    agreed = 0
    for step in range(STEPS):
        c.advance(1, sync=False)  # the search brings the index forward, as a server's does
        if step % 4 == 3:
            agreed += _top_agrees(c.index, c.lg, c.rng.choice(qs), 21)
    c.index.sync(c.lg)
    return c, qs, agreed


def test_deltas_were_applied_as_deltas(edited):
    c, _qs, _ = edited
    assert c.builds == [], "the edits were meant to go through deltas, not rebuilds"
    assert c.index.compaction is None
    assert c.index._deleted > 50  # rewritten documents: deletes the index still holds
    assert sorted(c.index.rowid) == sorted(c.lg.article_keys())


def test_first_page_shortcut_equals_full_ranking_after_deltas(edited):
    c, qs, agreed = edited
    answered = agreed
    for q in qs:
        for k in (1, 7, 21):
            answered += _top_agrees(c.index, c.lg, q, k)
    assert answered > len(qs)  # most pages come from the shortcut


def test_index_after_deltas_answers_as_a_fresh_build(edited):
    c, qs, _ = edited
    fresh = gs.SearchIndex()
    fresh.sync(c.lg)
    _same_hits(c.index, fresh, c.lg, qs, rtol=0.05)
    # Built anew, it answers exactly as the fresh one.
    c.index.rebuild(c.lg)
    _same_answers(c.index, fresh, c.lg, qs)


def test_compaction_builds_anew_in_the_background(monkeypatch):
    """Past COMPACT_MIN deletes, sync starts a compaction; versions written while it
    builds are written again onto the new index; then it answers as a fresh build."""
    monkeypatch.setattr(gs, "COMPACT_RATIO", 0.0)
    monkeypatch.setattr(gs, "COMPACT_MIN", 60)
    gate = threading.Event()
    real = gs._Tantivy.build.__func__

    def slow_build(cls, lg):
        if threading.current_thread().name == "search-compaction":
            assert gate.wait(60)
        return real(cls, lg)

    monkeypatch.setattr(gs._Tantivy, "build", classmethod(slow_build))
    c = Corpus(9)
    qs = _queries(random.Random(1), 18)
    while c.index.compaction is None:
        c.advance(1)
        assert c.step < 100
    begun_at = c.index.version
    c.advance(6)  # while it builds: deltas onto the old index, searched as ever
    assert c.index.version == c.lg.version and c.index._since is not None
    fresh = gs.SearchIndex()
    fresh.sync(c.lg)
    _same_hits(c.index, fresh, c.lg, qs, rtol=0.05)
    gate.set()
    c.index.compaction.join(60)
    assert c.index._since is None and c.index.version == begun_at
    assert c.index._deleted == 0
    _same_hits(c.index, fresh, c.lg, qs, rtol=0.05)  # the sync replays the 6 versions
    assert c.index.version == c.lg.version and c.builds == []
    # With nothing written meanwhile, a compaction's index is a fresh build's.
    monkeypatch.setattr(gs, "COMPACT_MIN", 0)
    c.advance(1)
    c.index.compaction.join(60)
    fresh = gs.SearchIndex()
    fresh.sync(c.lg)
    _same_answers(c.index, fresh, c.lg, qs)
    assert c.builds == []


def test_a_search_ahead_of_its_change_waits_for_it():
    """Live swaps a version in before its listeners run: a search on it in between
    waits for the Change instead of building the whole index anew."""
    c = Corpus(11)
    c.index.live = True
    note = c.index.note
    held: list = []
    c.index.note = lambda v, keys: held.append((v, keys))  # the Change is late
    c.advance(1, sync=False)
    (v, keys), lg = held[0], c.lg
    timer = threading.Timer(0.2, note, (v, keys))
    timer.start()
    hits = c.index.search(lg, "edited")
    timer.join()
    assert c.builds == [] and c.index.version == lg.version
    fresh = gs.SearchIndex()
    fresh.sync(lg)
    assert sorted(hits.keys) == sorted(fresh.search(lg, "edited").keys)
    # Without a live source, or past NOTE_WAIT, the version is built anew.
    c.index.live = False
    c.advance(1, sync=False)
    c.index.search(c.lg, "edited")
    assert c.builds == [c.lg.version]


def test_the_first_index_is_built_in_a_thread_and_a_wait_on_it_is_bounded():
    """A server starts the first build once its graph is loaded (``prepare``); a search
    meanwhile waits at most its time limit and is told the index is being built."""
    recs = {r.path: r for r in generate_records(FILES, seed=9)}
    lg = GraphState().apply(None, recs, files=len(recs), root="/corpus")
    index = gs.SearchIndex()
    index.prepare(lg)
    with pytest.raises(gs.IndexBuilding, match="still being built"):
        index.wait_built(lg, 0)  # 2,500 articles take far longer than this call
    index.prepare(lg)  # a second call starts no second build
    index.wait_built(lg, None)
    assert index.version == lg.version and len(index.rowid) == lg.stats().articles
    fresh = gs.SearchIndex()
    for q in _queries(random.Random(9), 12):
        assert index.search(lg, q).keys == fresh.search(lg, q).keys, q


def test_versions_applied_during_the_first_build_neither_wait_nor_get_lost():
    """The first build runs off the index's lock: a live corpus noting new versions
    meanwhile does not wait for it, and the next sync brings them in."""
    c = Corpus(11, files=4 * FILES, sync=False)
    c.index.prepare(c.lg)
    c.advance(3, sync=False)
    assert not c.index.built.is_set()  # the three notes did not wait for the build
    c.index.wait_built(c.lg, None)
    qs = [*_queries(c.rng, 12), "edited", "pokémon"]
    _same_hits(c.index, gs.SearchIndex(), c.lg, qs, rtol=0.05)
