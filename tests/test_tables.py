"""Lists out as tables: GET /export/articles.csv and .jsonl, and the connection's table."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from .conftest import SHARED_CORPUS, serve

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
