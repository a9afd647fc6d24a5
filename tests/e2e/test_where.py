"""The where language, any sort, facets, aggregates and keyset cursors on a real server.

Expected answers are computed here, in plain Python, from every article's fields as
the server lists them without any condition; the server's filtering, sorting and
counting must agree with them.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime

import pytest

from ..conftest import SHARED_CORPUS, serve
from ..corpus import article, write
from ..livetools import DELETE, TOKEN, upsert, wait_for
from ..livetools import write as gql_write

pytestmark = pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="no shared corpus")

FIELDS = """url title excerpt category type quality heat published publishedAt isStub extra
  provider { domain name } topics { name } related { url } relatedBy { url }"""

PAGE = """
query($where: ArticleWhere, $sort: [ArticleSort!], $first: Int, $after: String,
      $last: Int, $before: String) {
  articles(where: $where, sort: $sort, first: $first, after: $after, last: $last,
           before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { FIELDS }
  }
}""".replace("FIELDS", FIELDS)


def all_of(server, where=None, sort=None) -> list[dict]:
    out, after = [], None
    while True:
        v = {"where": where, "sort": sort, "first": 1000, "after": after}
        page = server.data(PAGE, v)["articles"]
        out += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(out)
            return out
        after = page["pageInfo"]["endCursor"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # The expected answers are computed from every article with its related lists, one
    # query the default cost limit (rightly) refuses on 700 articles: raise it here.
    args = ("--no-watch", "--max-cost", "1000000")
    with serve(SHARED_CORPUS, *args, tmp=tmp_path_factory.mktemp("where")) as s:
        yield s


@pytest.fixture(scope="module")
def everything(server):
    arts = all_of(server)
    assert len(arts) > 500
    return arts


def when(a):
    return datetime.fromisoformat(a["publishedAt"]) if a["publishedAt"] else None


def topics(a):
    return {t["name"].casefold() for t in a["topics"]}


CASES = [
    ({"quality": {"gte": 100}}, lambda a: a["quality"] is not None and a["quality"] >= 100),
    ({"quality": {"ne": 97}}, lambda a: a["quality"] is not None and a["quality"] != 97),
    ({"quality": {"isNull": True}}, lambda a: a["quality"] is None),
    ({"heat": {"in": [-1, 5]}}, lambda a: a["heat"] in (-1, 5)),
    ({"type": {"eq": "video"}}, lambda a: a["type"] == "video"),
    ({"category": {"isNull": False}}, lambda a: a["category"] is not None),
    (
        {"title": {"contains": "DATAVERSE"}},
        lambda a: "dataverse" in (a["title"] or "").casefold(),
    ),
    (
        {"title": {"startsWith": "power"}},
        lambda a: (a["title"] or "").casefold().startswith("power"),
    ),
    (
        {"url": {"startsWith": "https://youtube.com"}},
        lambda a: a["url"].startswith("https://youtube.com"),
    ),
    (
        {"publishedAt": {"gte": "2023-01-01T00:00:00Z", "lt": "2024-01-01T00:00:00"}},
        lambda a: (
            when(a) is not None
            and datetime(2023, 1, 1, tzinfo=UTC) <= when(a) < datetime(2024, 1, 1, tzinfo=UTC)
        ),
    ),
    ({"published": {"eq": False}}, lambda a: a["published"] is False),
    ({"isStub": {"eq": True}}, lambda a: a["isStub"]),
    (
        {"topics": {"all": ["power apps", "PORTALS"]}},
        lambda a: {"power apps", "portals"} <= topics(a),
    ),
    ({"topics": {"any": ["AI", "portals"]}}, lambda a: bool({"ai", "portals"} & topics(a))),
    ({"topics": {"none": ["power apps"]}}, lambda a: "power apps" not in topics(a)),
    (
        {"providers": {"any": ["microsoft.com", "aws.amazon.com"]}},
        lambda a: (a["provider"] or {}).get("domain") in ("microsoft.com", "aws.amazon.com"),
    ),
    (
        {"providerName": {"eq": "AWS"}},
        lambda a: (a["provider"] or {}).get("name") == "AWS",
    ),
    (
        {"OR": [{"quality": {"gt": 150}}, {"NOT": {"topics": {"any": ["power apps"]}}}]},
        lambda a: (a["quality"] or 0) > 150 or "power apps" not in topics(a),
    ),
    (
        {"AND": [{"type": {"eq": "article"}}, {"heat": {"lt": 0}}], "isStub": {"eq": False}},
        lambda a: (
            a["type"] == "article" and a["heat"] is not None and a["heat"] < 0 and not a["isStub"]
        ),
    ),
    ({"relatedCount": {"gte": 3}}, lambda a: len(a["related"]) >= 3),
    ({"relatedByCount": {"eq": 0}}, lambda a: len(a["relatedBy"]) == 0),
    ({"degree": {"gt": 4}}, lambda a: len(a["related"]) + len(a["relatedBy"]) > 4),
    (
        {"relatedToAny": {"isStub": {"eq": True}}, "isStub": {"eq": False}},
        None,  # computed in the test: names a stub in its related list
    ),
]


@pytest.mark.parametrize("where,pred", CASES, ids=[str(c[0])[:60] for c in CASES])
def test_where_agrees_with_python(server, everything, where, pred):
    by_url = {a["url"]: a for a in everything}
    if pred is None:

        def pred(a):
            return not a["isStub"] and any(by_url[r["url"]]["isStub"] for r in a["related"])

    expected = {a["url"] for a in everything if pred(a)}
    got = [a["url"] for a in all_of(server, where)]
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert 0 < len(expected) < len(everything) or where == {"quality": {"isNull": True}}


def test_related_to_and_by_a_url(server, everything):
    hub = max(everything, key=lambda a: len(a["relatedBy"]))
    got = {a["url"] for a in all_of(server, {"relatedTo": hub["url"]})}
    assert got == {r["url"] for r in hub["relatedBy"]} and got
    src = max(everything, key=lambda a: len(a["related"]))
    got = {a["url"] for a in all_of(server, {"relatedBy": src["url"]})}
    assert got == {r["url"] for r in src["related"]} and got


def test_extra_by_path(tmp_path):
    folder = tmp_path / "corpus"
    series = [{"name": "Deep", "n": 3}, {"name": "deeper", "n": 10}, {"name": "Wide"}, None]
    for i, sr in enumerate(series):
        more = {"series": sr} if sr is not None else {}
        write(folder, f"a{i}.md", article(f"https://e.example/{i}", f"A{i}", **more))
    with serve(folder, "--no-watch", tmp=tmp_path) as s:

        def urls(*conds):
            return sorted(a["url"][-1] for a in all_of(s, {"extra": list(conds)}))

        assert urls({"path": "series.n", "gte": 3}) == ["0", "1"]
        assert urls({"path": "series.n", "gt": 3}) == ["1"]
        assert urls({"path": "series.n", "isNull": True}) == ["2", "3"]
        assert urls({"path": "series.name", "startsWith": "DEEP"}) == ["0", "1"]
        assert urls({"path": "series.name", "in": ["Wide", "Deep"]}) == ["0", "2"]
        assert urls({"path": "series.name", "eq": "Deep"}, {"path": "series.n", "lt": 5}) == ["0"]
        assert urls({"path": "series", "isNull": False}) == ["0", "1", "2"]


def test_bad_where_is_a_clear_error(server):
    body = server.gql(PAGE, {"where": {"quality": {"contains": "x"}}})
    assert "errors" in body
    body = server.gql(PAGE, {"where": {"published": {"gt": True}}})
    assert "unknown field 'gt'" in body["errors"][0]["message"]
    body = server.gql(PAGE, {"where": {"extra": [{"path": ""}]}})
    assert "needs a path" in body["errors"][0]["message"]


def sort_key(a, fields):
    out = []
    for f, d in fields:
        v = a[f]
        if f == "publishedAt" and v:
            v = datetime.fromisoformat(v).timestamp()
        if v is None:
            out.append((1, 0))
        elif isinstance(v, str):
            out.append((0, tuple(-ord(c) for c in v) + (1,) if d == "DESC" else v))
        else:
            out.append((0, -v if d == "DESC" else v))
    return (*out, a["url"])


@pytest.mark.parametrize(
    "sort",
    [
        [("quality", "DESC"), ("publishedAt", "DESC")],
        [("title", "ASC")],
        [("type", "DESC"), ("heat", "ASC"), ("title", "DESC")],
    ],
)
def test_any_sort(server, everything, sort):
    enum = {"quality": "QUALITY", "publishedAt": "PUBLISHED_AT", "title": "TITLE"}
    enum |= {"type": "TYPE", "heat": "HEAT"}
    arg = [{"field": enum[f], "direction": d} for f, d in sort]
    got = [a["url"] for a in all_of(server, None, arg)]
    assert got == [a["url"] for a in sorted(everything, key=lambda a: sort_key(a, sort))]


def test_sort_by_counts_and_pagerank(server, everything):
    q = "{ articles(sort: [{field: PAGERANK, direction: DESC}], first: 50) { nodes { url pagerank } } }"
    ranks = [a["pagerank"] for a in server.data(q)["articles"]["nodes"]]
    assert ranks == sorted(ranks, reverse=True)
    got = all_of(server, None, [{"field": "RELATED_BY_COUNT", "direction": "DESC"}])
    counts = [len(a["relatedBy"]) for a in got]
    assert counts == sorted(counts, reverse=True)


FACETS = """
query($where: ArticleWhere, $search: String) {
  articles(where: $where, search: $search, first: 0) {
    totalCount
    facets(top: 3) {
      providers { value count } topics { value count } categories { value count }
      types { value count } months { value count } years { value count }
      other { providers topics categories types months years }
    }
    aggregate {
      quality { min max avg sum count } heat { min max avg sum count }
      publishedAt { min max count }
    }
  }
}"""


def top(counter: Counter, n=3):
    pairs = sorted(counter.items(), key=lambda p: (-p[1], p[0]))
    return [{"value": v, "count": c} for v, c in pairs[:n]], sum(c for _, c in pairs[n:])


@pytest.mark.parametrize(
    "where", [None, {"quality": {"gte": 90}}, {"topics": {"any": ["AI"]}, "isStub": {"eq": False}}]
)
def test_facets_and_aggregates(server, everything, where):
    rows = everything
    if where is not None:
        urls = {a["url"] for a in all_of(server, where)}
        rows = [a for a in everything if a["url"] in urls]
    got = server.data(FACETS, {"where": where})["articles"]
    assert got["totalCount"] == len(rows)
    f = got["facets"]
    utc = [when(a).astimezone(UTC) for a in rows if when(a)]
    counters = {
        "providers": Counter(a["provider"]["domain"] for a in rows if a["provider"]),
        "topics": Counter(t["name"] for a in rows for t in a["topics"]),
        "categories": Counter(a["category"] for a in rows if a["category"] is not None),
        "types": Counter(a["type"] for a in rows if a["type"] is not None),
        "months": Counter(f"{d.year:04d}-{d.month:02d}" for d in utc),
        "years": Counter(str(d.year) for d in utc),
    }
    for name, counter in counters.items():
        values, other = top(counter)
        assert f[name] == values, name
        assert f["other"][name] == other, name
    agg = got["aggregate"]
    for field in ("quality", "heat"):
        vals = [a[field] for a in rows if a[field] is not None]
        a = agg[field]
        assert a["count"] == len(vals)
        assert (a["min"], a["max"]) == (min(vals), max(vals))
        assert a["sum"] == pytest.approx(sum(vals))
        assert a["avg"] == pytest.approx(sum(vals) / len(vals))
    assert datetime.fromisoformat(agg["publishedAt"]["min"]) == min(utc)
    assert datetime.fromisoformat(agg["publishedAt"]["max"]) == max(utc)


def test_facets_of_a_search(server):
    q = '{ search(query: "sagemaker", first: 100) { totalCount nodes { provider { domain } } facets { providers { value count } } } }'
    s = server.data(q)["search"]
    assert s["totalCount"] <= 100
    c = Counter(n["provider"]["domain"] for n in s["nodes"] if n["provider"])
    assert s["facets"]["providers"] == top(c, 10)[0]


def test_last_and_before(server, everything):
    sort = [{"field": "QUALITY", "direction": "DESC"}]
    full = [a["url"] for a in all_of(server, None, sort)]
    v = {"sort": sort, "first": 10}
    first = server.data(PAGE, v)["articles"]
    v = {"sort": sort, "last": 4, "before": first["pageInfo"]["endCursor"]}
    back = server.data(PAGE, v)["articles"]
    assert [a["url"] for a in back["nodes"]] == full[5:9]
    assert back["pageInfo"]["hasPreviousPage"] and back["pageInfo"]["hasNextPage"]
    tail = server.data(PAGE, {"sort": sort, "last": 3})["articles"]
    assert [a["url"] for a in tail["nodes"]] == full[-3:]


def test_bad_cursor(server):
    body = server.gql(PAGE, {"first": 2, "after": "bm9wZQ=="})
    assert "invalid cursor" in body["errors"][0]["message"]


def test_writes_between_pages_never_repeat_or_skip(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(SHARED_CORPUS / "everyday-ai", folder)
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        sort = [
            {"field": "QUALITY", "direction": "DESC"},
            {"field": "PUBLISHED_AT", "direction": "DESC"},
        ]
        where = {"isStub": {"eq": False}}
        before = [a["url"] for a in all_of(s, where, sort)]
        p1 = s.data(PAGE, {"where": where, "sort": sort, "first": 10})["articles"]
        page1 = [a["url"] for a in p1["nodes"]]
        assert page1 == before[:10]
        # Between pages: an article that sorts first, one that sorts in page 2's range,
        # and the last article of page 1 and one of page 2's removed.
        v0 = s.data("{ stats { version } }")["stats"]["version"]
        upsert(s, {"webUrl": "https://x.example/top", "title": "Top", "quality": 1000})
        q_mid = next(a["quality"] for a in all_of(s, where, sort) if a["url"] == before[14])
        upsert(
            s,
            {
                "webUrl": "https://x.example/mid",
                "title": "Mid",
                "quality": q_mid,
                "publishedDateTime": "1970-01-02T00:00:00Z",
            },
        )
        for url in (before[9], before[12]):
            body = gql_write(s, DELETE, {"url": url})
            assert "errors" not in body, body
        write(folder, "outside.md", article("https://x.example/low", "Low", quality=-5))
        wait_for(lambda: s.data("{ stats { version } }")["stats"]["version"] >= v0 + 5)
        rest, after = [], p1["pageInfo"]["endCursor"]
        while True:
            p = s.data(PAGE, {"where": where, "sort": sort, "first": 7, "after": after})
            rest += [a["url"] for a in p["articles"]["nodes"]]
            if not p["articles"]["pageInfo"]["hasNextPage"]:
                break
            after = p["articles"]["pageInfo"]["endCursor"]
        seen = page1 + rest
        assert len(seen) == len(set(seen)), "an article repeated"
        unchanged_after = [u for u in before[10:] if u != before[12]]
        assert [u for u in rest if u in set(before)] == unchanged_after, "an article skipped"
        assert "https://x.example/mid" in rest and "https://x.example/low" in rest
        assert "https://x.example/top" not in rest  # it sorts before the cursor
