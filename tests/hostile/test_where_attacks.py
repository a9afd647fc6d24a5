"""Big `where`s cannot stall the server (issue 22, items 5 and 8a): 100 articleChanged
subscriptions on one websocket, each with an OR of 300 terms, and lists whose where is
an OR of 5,000 equalities. Real servers; a small query's p99 is probed throughout."""

from __future__ import annotations

import time

import pytest

from graphsvc.files import load_corpus
from graphsvc.graph import build_graph
from graphsvc.graph import query as gq

from ..conftest import SHARED_CORPUS, serve
from ..corpus import article, write
from ..livetools import TOKEN, WSClient, input_for, upsert
from .test_hostile_clients import P99, Probe

SUB = """subscription($w: ArticleWhere) {
  articleChanged(where: $w) { kind url article { title } previous { title } }
}"""
SUBS = 100
TERMS = 300


def _subscribe(ws: WSClient, id: str, where: dict) -> None:
    ws.send({"id": id, "type": "subscribe", "payload": {"query": SUB, "variables": {"w": where}}})


def _events(ws: WSClient, want: int, timeout: float = 10.0) -> dict[str, list]:
    """Read until ``want`` events arrived; refuses any other message but pings."""
    got: dict[str, list] = {}
    n = 0
    deadline = time.monotonic() + timeout
    while n < want:
        msg = ws.recv(max(0.01, deadline - time.monotonic()))
        if msg.get("type") == "ping":
            ws.send({"type": "pong"})
            continue
        assert msg["type"] == "next", msg
        assert "errors" not in msg["payload"], msg
        got.setdefault(msg["id"], []).append(msg["payload"]["data"]["articleChanged"])
        n += 1
    return got


def _refusal(ws: WSClient, id: str) -> dict:
    """The error that refuses subscription ``id`` (skipping pings)."""
    while True:
        msg = ws.recv()
        if msg.get("type") == "ping":
            ws.send({"type": "pong"})
            continue
        assert msg.get("id") == id, msg
        assert msg["type"] == "error", msg
        (error,) = msg["payload"]
        return error


@pytest.mark.alone
def test_hundred_subscriptions_with_ors_of_300_terms_do_not_stall_writes(tmp_path):
    folder = tmp_path / "c"
    write(folder, "seed.md", article("https://att.example/seed", "Seed"))
    # A lower budget than the default, so that a dearer where is refused on this small
    # corpus too: each where below costs ~120, the refused one ~560.
    args = ("--max-cost", "500")
    with serve(folder, *args, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        probe = Probe(s.base)
        with probe:
            ws = WSClient(s.base)
            # 300 URLs that never exist, and the one condition that matches: each
            # subscription hears only the articles titled "Hit <its number> ...".
            noise = [{"url": {"eq": f"https://nowhere.example/{i}"}} for i in range(TERMS)]
            for i in range(SUBS):
                where = {"OR": [*noise, {"title": {"startsWith": f"Hit {i:03d} "}}]}
                where["OR"].insert(TERMS // 2, {"title": {"eq": "Warm"}})
                _subscribe(ws, f"s{i}", where)
            # Until every subscription listens: a change each hears.
            heard: set[str] = set()
            deadline = time.monotonic() + 60
            n = 0
            while len(heard) < SUBS and time.monotonic() < deadline:
                n += 1  # a new quality each time: a change
                upsert(s, input_for("https://att.example/warm", "Warm", quality=n))
                try:
                    while True:
                        heard |= set(_events(ws, 1, timeout=0.5))
                except TimeoutError:
                    pass
            assert len(heard) == SUBS, f"{len(heard)} subscriptions listen"
            try:  # what the last warm-ups left
                while True:
                    _events(ws, 1, timeout=1.0)
            except TimeoutError:
                pass

            # The writes answer at once; the events that match arrive, and only those.
            took = []
            for i in (7, 42, 99):
                t0 = time.perf_counter()
                upsert(s, input_for(f"https://att.example/{i}", f"Hit {i:03d} new"))
                took.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            upsert(s, input_for("https://att.example/7", "Hit 042 moved"))  # leaves 7, joins 42
            took.append(time.perf_counter() - t0)
            upsert(s, input_for("https://att.example/none", "No one's"))
            got = _events(ws, 5)
            assert got == {
                "s7": [
                    {"kind": "CREATED", "url": "https://att.example/7",
                     "article": {"title": "Hit 007 new"}, "previous": None},
                    {"kind": "UPDATED", "url": "https://att.example/7",
                     "article": {"title": "Hit 042 moved"}, "previous": {"title": "Hit 007 new"}},
                ],
                "s42": [
                    {"kind": "CREATED", "url": "https://att.example/42",
                     "article": {"title": "Hit 042 new"}, "previous": None},
                    {"kind": "UPDATED", "url": "https://att.example/7",
                     "article": {"title": "Hit 042 moved"}, "previous": {"title": "Hit 007 new"}},
                ],
                "s99": [
                    {"kind": "CREATED", "url": "https://att.example/99",
                     "article": {"title": "Hit 099 new"}, "previous": None},
                ],
            }  # fmt: skip
            with pytest.raises(TimeoutError):  # nothing for the article no one asked for
                _events(ws, 1, timeout=1.0)
            assert max(took) < 1.0, f"writes took {took}"

            # The 101st subscription on this socket is refused by name.
            _subscribe(ws, "extra", {"title": {"eq": "x"}})
            error = _refusal(ws, "extra")
            assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
            assert error["extensions"]["limit"] == "max-subscriptions", error

            # A where over the budget is refused by name before it runs.
            dear = {"OR": [{"title": {"contains": f"zz{i}"}} for i in range(400)]}
            ws2 = WSClient(s.base)
            _subscribe(ws2, "dear", dear)
            error = _refusal(ws2, "dear")
            assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
            assert error["extensions"]["limit"] == "max-cost", error
            ws2.close()
            ws.close()
        assert "Traceback" not in s.logs()
    assert not probe.failures, probe.failures[:3]
    assert probe.p99() <= P99, f"a small query's p99: {probe.p99() * 1000:.0f} ms"


# -- item 8a: an OR of equalities is one set lookup, and a where is priced -----------------
needs_corpus = pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="no shared corpus")
PAGE = "query($w: ArticleWhere) { articles(where: $w, first: 1000) { totalCount nodes { url } } }"


@needs_corpus
@pytest.mark.alone
def test_an_or_of_5000_equalities_answers_fast_and_right(read_only_server):
    s = read_only_server(SHARED_CORPUS)
    every = [n["url"] for n in s.data(PAGE, {"w": None})["articles"]["nodes"]]
    assert len(every) > 500
    wanted = every[::7]
    terms = [{"url": {"eq": f"https://nowhere.example/{i}"}} for i in range(5000 - len(wanted))]
    for j, u in enumerate(wanted):  # spread among the others
        terms.insert(j * 40, {"url": {"eq": u}})
    assert len(terms) == 5000
    asked = {t["url"]["eq"] for t in terms}
    expected = sorted(u for u in every if u in asked)
    assert len(expected) > 50
    with Probe(s.base) as probe:
        took = []
        for _ in range(5):
            t0 = time.perf_counter()
            body = s.gql(PAGE, {"w": {"OR": terms}})
            took.append(time.perf_counter() - t0)
            assert "errors" not in body, body["errors"]
            got = sorted(n["url"] for n in body["data"]["articles"]["nodes"])
            assert got == expected
            assert body["data"]["articles"]["totalCount"] == len(expected)
    assert max(took) < 2.0, f"took {took}"
    assert not probe.failures, probe.failures[:3]
    assert probe.p99() <= P99, f"a small query's p99: {probe.p99() * 1000:.0f} ms"


@needs_corpus
@pytest.mark.alone
def test_a_where_over_its_price_or_its_conditions_is_refused_by_name(read_only_server):
    s = read_only_server(SHARED_CORPUS)
    with Probe(s.base) as probe:
        # 400 substring tests of every article (~740): ~12,000 > the default 10,000.
        dear = {"OR": [{"title": {"contains": f"zz{i}"}} for i in range(400)]}
        many = {"OR": [{"title": {"contains": f"zz{i}"}} for i in range(1001)]}
        for where, limit in ((dear, "max-cost"), (many, "max-where-conditions")):
            for _ in range(5):
                t0 = time.perf_counter()
                body = s.gql(PAGE, {"w": where})
                assert time.perf_counter() - t0 < 1.0
                (error,) = body["errors"]
                assert body["data"] is None
                assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
                assert error["extensions"]["limit"] == limit, error
                assert limit in error["message"]
        # Priced as it costs: half of that runs.
        cheap = {"OR": dear["OR"][:200]}
        assert s.data(PAGE, {"w": cheap})["articles"]["totalCount"] == 0
    assert not probe.failures, probe.failures[:3]
    assert probe.p99() <= P99, f"a small query's p99: {probe.p99() * 1000:.0f} ms"


# -- one compiler, two ways to run it --------------------------------------------------------
@needs_corpus
def test_a_compiled_where_selects_the_same_articles_all_at_once_and_a_few_at_a_time():
    """Lists evaluate a where over every article's columns; change events over just the
    articles a change touched. Both run the same compiled where, and must agree."""
    import random

    lg = build_graph(load_corpus(SHARED_CORPUS))
    keys = sorted(lg.article_keys())
    rng = random.Random(22)
    titles = [t for k in keys if (t := lg.data(k).title)]
    topics = sorted({t.name for k in keys for t in lg.topics_of(k)})
    cats = sorted({c for k in keys if (c := lg.data(k).category)})

    def leaf() -> dict:
        k = rng.choice(keys)
        p = lg.provider_of(k)
        return rng.choice([
            {"url": {"eq": k}},
            {"title": {"contains": rng.choice(titles)[:4]}},
            {"quality": {"gte": rng.choice([0, 50, 90])}},
            {"heat": {"ne": -1}},
            {"category": {"eq": rng.choice(cats)}},
            {"isStub": {"eq": rng.random() < 0.5}},
            {"topics": {rng.choice(["any", "all", "none"]): rng.sample(topics, 2)}},
            {"providers": {"any": [p.domain if p else "x.example"]}},
            {"relatedTo": k},
            {"relatedBy": k},
            {"degree": {"in": [1, 2, 3]}},
            {"extra": [{"path": "ampWebUrl", "isNull": False}]},
        ])  # fmt: skip

    def where(depth: int = 0) -> dict:
        r = rng.random()
        if depth < 3 and r < 0.15:
            return {"OR": [where(depth + 1) for _ in range(rng.randint(0, 5))]}
        if depth < 3 and r < 0.25:
            return {"AND": [where(depth + 1) for _ in range(rng.randint(0, 3))]}
        if depth < 3 and r < 0.32:
            return {"NOT": where(depth + 1)}
        if depth < 3 and r < 0.4:
            return {rng.choice(["relatedToAny", "relatedByAny"]): where(depth + 1)}
        return leaf()

    cols = gq.columns(lg)
    for _ in range(300):
        w = where()
        c = gq.compile_where(w)
        whole = {cols.keys[i] for i in c.mask(lg).nonzero()[0]}
        sample = rng.sample(keys, 40)
        assert c.matching(lg, sample) == whole.intersection(sample), w
