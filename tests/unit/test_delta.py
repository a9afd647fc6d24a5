"""Deltas in memory: random record changes applied by graph/delta.py equal a cold build.

The folder-level proof (files, the watcher, broken files) is tests/unit/test_delta_stateful.py;
this one drives the graph layer alone, fast, with edits a folder makes awkward (URL
merges across articles, self and duplicate related items, provider spellings).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
from collections import Counter
from datetime import UTC, datetime

import immutables
import pytest

from graphsvc.files.loader import FolderRecords
from graphsvc.generate import generate_records
from graphsvc.graph.build import build_graph
from graphsvc.graph.delta import GraphState
from graphsvc.graph.model import topic_key

from ..graphcompare import assert_same

STEPS = int(os.environ.get("GRAPHSVC_DELTA_STEPS", "300"))


def _cold(recs: dict) -> object:
    c = FolderRecords(root="/corpus", files=len(recs))
    c.records = [recs[p] for p in sorted(recs)]
    return build_graph(c)


def _step(rng: random.Random, recs: dict, pool: list, step: int) -> dict:
    ch: dict = {}
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        paths = sorted(recs)
        if op < 0.12 and paths:  # delete
            ch[rng.choice(paths)] = None
        elif op < 0.5:  # a copy of another record: duplicate URLs, new or existing path
            src = copy.deepcopy(rng.choice(pool))
            if rng.random() < 0.5:
                src.title = f"t{step}"
            if rng.random() < 0.3 and src.related:  # a related item (maybe a stub) gets a file
                src = copy.deepcopy(rng.choice(src.related))
                src.related = []
                src.topics = ["AI", "ai"][: rng.randint(0, 2)]
            if rng.random() < 0.3:
                src.published_at = rng.choice([None, datetime(2020, 1, 1, tzinfo=UTC)])
            new = f"n/{step}-{rng.randint(0, 9)}.md"
            p = rng.choice(paths) if (rng.random() < 0.4 and paths) else new
            src.path = p
            ch[p] = src
        elif op < 0.75 and paths:  # edit
            p = rng.choice(paths)
            r = copy.deepcopy(recs.get(p) or rng.choice(pool))
            r.path = p
            other = rng.choice(pool)
            k = rng.random()
            if k < 0.3:  # names itself
                me = copy.deepcopy(r)
                me.related = []
                r.related.append(me)
            elif k < 0.6 and r.related:  # names one article twice
                r.related.append(copy.deepcopy(r.related[0]))
            elif k < 0.8:  # shares a URL with another article: merges them
                r.urls = dict(r.urls)
                r.urls["ampWebUrl"] = next(iter(other.urls.values()))
            else:
                r.topics = [t.upper() if rng.random() < 0.5 else t for t in r.topics]
            if r.provider and rng.random() < 0.3:
                r.provider = dataclasses.replace(
                    r.provider,
                    name=rng.choice(["A", "B", None]),
                    domain=rng.choice([r.provider.domain, None, "X.com"]),
                )
            ch[p] = r
        elif paths:  # rename
            p = rng.choice(paths)
            if p in ch:
                continue
            r = copy.deepcopy(recs[p])
            r.path = q = f"r/{step}.md"
            ch[p], ch[q] = None, r
    return ch


def _stepped(rng: random.Random, recs: dict, pool: list, step: int) -> dict:
    """A random step's change, applied to ``recs`` (the cold build's input) too."""
    ch = _step(rng, recs, pool, step)
    for p, r in ch.items():
        if r is None:
            recs.pop(p, None)
        else:
            recs[p] = r
    return ch


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_deltas_equal_a_cold_build(seed):
    rng = random.Random(seed)
    recs = {r.path: r for r in generate_records(60, seed=seed)}
    pool = list(recs.values())
    st = GraphState()
    lg = st.apply(None, dict(recs), files=len(recs), root="/corpus")
    assert_same(lg, _cold(recs))
    for step in range(STEPS):
        ch = _stepped(rng, recs, pool, step)
        old = lg
        lg = st.apply(lg, ch, files=len(recs))
        assert lg.version == old.version + 1
        try:
            assert_same(lg, _cold(recs))
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, step {step}, paths {sorted(ch)}: {e}") from None


def test_a_delta_onto_a_cold_built_graph():
    """A version from build_graph (plain dicts) is a valid base: its tables become maps."""
    rng = random.Random(7)
    recs = {r.path: r for r in generate_records(60, seed=7)}
    pool = list(recs.values())
    st = GraphState()
    st.apply(None, dict(recs), files=len(recs), root="/corpus")
    lg = _cold(recs)
    for step in range(20):
        ch = _stepped(rng, recs, pool, step)
        lg = st.apply(lg, ch, files=len(recs))
        assert type(lg.g._node) is type(lg.g._succ) is type(lg.g._pred) is immutables.Map
        assert_same(lg, _cold(recs))


def test_old_versions_are_untouched():
    """Copy-on-write: a reader's version does not change when the next one is made."""
    recs = {r.path: r for r in generate_records(40, seed=5)}
    st = GraphState()
    v1 = st.apply(None, dict(recs), files=len(recs))
    from ..graphcompare import describe

    before = describe(v1)
    paths = sorted(recs)
    ch = {paths[0]: None, paths[1]: None}
    r = copy.deepcopy(recs[paths[2]])
    r.title = "changed"
    r.related = r.related[:1]
    ch[paths[2]] = r
    v2 = st.apply(v1, ch, files=len(recs) - 2, version=10)
    assert v2.version == 10
    assert describe(v1) == before
    assert describe(v2) != before


def test_an_edit_that_keeps_its_links_copies_no_hub():
    """A title edit removes and puts back the article's provider and topic edges: the
    hubs' predecessor dicts (a big topic's holds a fifth of the corpus) are shared with
    the old version, not copied; a topic the edit drops is copied and loses it."""
    recs = {r.path: r for r in generate_records(200, seed=3)}
    st = GraphState()
    v1 = st.apply(None, dict(recs), files=len(recs))
    members = Counter(topic_key(t) for r in recs.values() for t in r.topics)
    path = next(
        p
        for p in sorted(recs)
        if recs[p].topics and recs[p].provider and members[topic_key(recs[p].topics[0])] > 1
    )
    r = copy.deepcopy(recs[path])
    r.title = "a new title"
    key = v1.resolve(next(iter(r.urls.values())))
    hubs = [v for v, d in v1.g._succ[key].items() if d["kind"] != "related"]
    assert len(hubs) >= 2
    v2 = st.apply(v1, {path: r}, files=len(recs))
    assert v2.data(key).title == "a new title"
    for h in hubs:
        assert v2.g._pred[h] is v1.g._pred[h], h
    recs[path] = r
    assert_same(v2, _cold(recs))
    dropped = topic_key(r.topics[0])
    r = copy.deepcopy(r)
    r.topics = r.topics[1:]
    v3 = st.apply(v2, {path: r}, files=len(recs))
    recs[path] = r
    assert v3.g.has_node(dropped)  # other articles keep it
    assert v3.g._pred[dropped] is not v2.g._pred[dropped]
    assert key not in v3.g._pred[dropped] and key in v2.g._pred[dropped]
    assert_same(v3, _cold(recs))


# -- caches that follow deltas ---------------------------------------------------------
ORDERS = [
    None,
    [("TITLE", "ASC")],
    [("RELATED_BY_COUNT", "DESC"), ("PUBLISHED_AT", "ASC")],
    [("QUALITY", "DESC")],
    [("IS_STUB", "ASC"), ("URL", "DESC")],
    [("PROVIDER_NAME", "ASC")],  # not derivable: rebuilt, must agree all the same
]
WHERES = [
    None,
    {"quality": {"gte": 0.5}},
    {"topics": {"any": ["ai", "AI"]}},
    {"NOT": {"title": {"contains": "t"}}},
    {"isStub": {"eq": False}, "relatedByCount": {"gt": 0}},
]


def _answers(lg) -> dict:
    from graphsvc.api.cost import GraphSize
    from graphsvc.graph import query as gq

    out = {}
    for order in ORDERS:
        for where in WHERES:
            sel = gq.select(lg, where=where, order=order)
            out[repr((order, where))] = sel.keys
            if order is None:
                for by in gq.FACETS:
                    out[f"facet {by} {where!r}"] = gq.facet_counts(lg, sel.rows, by)
                out[f"agg {where!r}"] = gq.aggregate(lg, sel.rows, "quality")
    size = GraphSize.of(lg)
    out["size"] = (size.nodes, size.max_out, size.max_in, size.max_hub, size.articles)
    return out


@pytest.mark.parametrize("seed", [4, 5])
def test_derived_caches_equal_cold_ones(seed):
    """Columns, whole-version orders and the cost limiter's fan-outs brought forward by
    deltas (some versions skipped, so changes accumulate) answer every selection,
    facet and aggregate exactly as the same caches built cold."""
    from graphsvc.graph.query import columns

    rng = random.Random(seed)
    recs = {r.path: r for r in generate_records(80, seed=seed)}
    pool = list(recs.values())
    st = GraphState()
    lg = st.apply(None, dict(recs), files=len(recs), root="/corpus")
    _answers(lg)
    derived = 0
    for step in range(STEPS // 3):
        lg = st.apply(lg, _stepped(rng, recs, pool, step), files=len(recs))
        if rng.random() < 0.3:
            continue  # nothing asked of this version: the next derives across it
        live = _answers(lg)
        derived += columns(lg).derived_from() is not None
        cold = _answers(_cold(recs))
        for what, value in cold.items():
            assert live[what] == value, f"seed {seed}, step {step}: {what}"
    assert derived > STEPS // 10  # the derived path ran, not only cold rebuilds


def test_each_family_of_caches_follows_its_own_base():
    """A version that built only the cost limiter's fan-outs (every written version
    does: the mutation's request is priced) does not cut the query columns' lineage:
    columns asked for after several such versions are derived, not rebuilt (at 1M
    articles a rebuild took 25 s, on the event loop), and answer as cold ones; and the
    other way round."""
    from graphsvc.api.cost import GraphSize
    from graphsvc.graph.query import columns

    rng = random.Random(11)
    recs = {r.path: r for r in generate_records(80, seed=11)}
    pool = list(recs.values())
    st = GraphState()
    lg = st.apply(None, dict(recs), files=len(recs), root="/corpus")
    columns(lg)
    GraphSize.of(lg)
    for step in range(6):
        lg = st.apply(lg, _stepped(rng, recs, pool, step), files=len(recs))
        GraphSize.of(lg)  # only the fan-outs, as a priced mutation
    assert columns(lg).derived_from() is not None
    assert _answers(lg) == _answers(_cold(recs))
    for step in range(6, 12):
        lg = st.apply(lg, _stepped(rng, recs, pool, step), files=len(recs))
        columns(lg)  # only the columns
    size = GraphSize.of(lg)
    assert size.graph is lg.g and lg.derived.lineage("cost-size") is not None
    assert _answers(lg) == _answers(_cold(recs))
