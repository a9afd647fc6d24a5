"""Hostile requests over HTTP against a real server (issue 9): the response cache never
answers a mutation or an unauthorised request, the cost limit prices every fan-out,
bad bodies get GraphQL errors, the schema follows the read token, the access log
cannot be forged."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ..conftest import serve
from ..corpus import article, write
from ..livetools import AUTH, TOKEN, UPSERT_MANY, errors

BIG = 250  # articles per batch: the mutation's answer is well over 16 KB


def _inputs(title: str) -> list[dict]:
    return [
        {
            "webUrl": f"https://cache.example/story/{i:04d}",
            "title": f"{title} {i}",
            "publishedDateTime": "2024-03-01T12:00:00Z",
            "provider": {"name": "Example", "domain": "example.com"},
            "topics": ["AI"],
        }
        for i in range(BIG)
    ]


def _post(s, body: dict, headers: dict | None = None) -> httpx.Response:
    return s.client.post("/graphql", json=body, headers=headers or {})


# -- item 3: the whole-response cache ------------------------------------------------------
@pytest.fixture
def folder(tmp_path) -> Path:
    f = tmp_path / "corpus"
    write(f, "seed.md", article("https://cache.example/seed", "Seed"))
    return f


def test_mutation_answers_are_never_replayed(folder, tmp_path):
    body = {"query": UPSERT_MANY, "variables": {"inputs": _inputs("First")}}
    with serve(folder, "--no-watch", tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        for _ in range(3):  # the same authorised, error-free, large mutation
            r = _post(s, body, AUTH)
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
            assert len(r.content) >= 16 * 1024
            written = r.json()["data"]["upsertArticles"]
        # Repeated without a token and with a wrong one: refused, never replayed.
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = _post(s, body, headers)
            assert r.status_code == 200
            assert r.json().get("data") is None, r.text[:300]
            assert errors(r.json()), r.text[:300]
        # A hand edit of one file, then the same upsert: it must be written again.
        first = next(w for w in written if w["url"].endswith("/story/0000"))
        target = folder / first["paths"][0]
        target.write_text(target.read_text().replace("First 0", "Edited by hand"))
        r = _post(s, body, AUTH)
        assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
        assert "First 0" in target.read_text() and "Edited by hand" not in target.read_text()


def test_cached_query_answers_need_the_read_token(folder, tmp_path):
    env = {"GRAPHSVC_TOKEN": TOKEN, "GRAPHSVC_READ_TOKEN": "reader-token"}
    reader = {"Authorization": "Bearer reader-token"}
    with serve(folder, "--no-watch", "--read-token", tmp=tmp_path, env=env) as s:
        fill = {"query": UPSERT_MANY, "variables": {"inputs": _inputs("T")}}
        assert "errors" not in _post(s, fill, AUTH).json()
        q = {"query": "{ articles(first: 300) { nodes { url title excerpt topics { name } } } }"}
        for _ in range(2):
            r = _post(s, q, reader)
            assert r.status_code == 200 and len(r.content) >= 16 * 1024, r.text[:200]
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = _post(s, q, headers)
            assert r.status_code == 401, r.text[:200]
            assert "cache.example" not in r.text


# -- item 4 and issue 12 item 6: the cost limit prices every fan-out, by the graph's size ----
def _refused_by_cost(r: httpx.Response) -> bool:
    body = r.json()
    return any(
        (e.get("extensions") or {}).get("limit") == "max-cost" for e in body.get("errors", [])
    )


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    """A 3,000-article generated corpus: big enough that a deep, wide walk is refused."""
    tmp = tmp_path_factory.mktemp("big")
    from graphsvc.cli import main

    assert main(["generate", "--articles", "3000", "--out", str(tmp / "corpus")]) == 0
    with serve(tmp / "corpus", "--no-watch", tmp=tmp) as s:
        s.url = s.data("{ articles(first: 1) { nodes { url } } }")["articles"]["nodes"][0]["url"]
        yield s


def test_a_big_limit_on_a_small_graph_is_admitted_and_refused_on_a_big_one(
    shared_corpus, big_server, read_only_server
):
    q = (
        "query($u: String!) { neighbors(url: $u, depth: 3, limit: 5000) "
        "{ truncated nodes { key } edges { source target } } }"
    )
    small = read_only_server(shared_corpus / "everyday-ai")
    url = small.data("{ articles(first: 1) { nodes { url } } }")["articles"]["nodes"][0]["url"]
    sub = small.data(q, {"u": url})["neighbors"]
    assert sub["nodes"] and sub["truncated"] is False
    r = _post(big_server, {"query": q, "variables": {"u": big_server.url}})
    assert _refused_by_cost(r), r.text[:300]


def test_variable_defaults_are_priced(big_server):
    walks = " ".join(
        f"n{i}: neighbors(url: $u, depth: $d, limit: $l) {{ truncated }}" for i in range(20)
    )
    q = f"query($u: String!, $d: Int! = 5, $l: Int! = 5000) {{ {walks} }}"
    r = _post(big_server, {"query": q, "variables": {"u": big_server.url}})
    assert _refused_by_cost(r), r.text[:300]
    # The same with small values given: admitted.
    r = _post(big_server, {"query": q, "variables": {"u": big_server.url, "d": 1, "l": 10}})
    assert "errors" not in r.json(), r.text[:300]


@pytest.mark.parametrize(
    "query",
    [
        "{" + " ".join(f'p{i}: neighborsPacked(url: "$U")' for i in range(50)) + "}",
        "{ topics(first: 1000) { nodes { articles(first: 1000) { nodes { relatedBy "
        "{ related { relatedBy { url } } } } } } } }",
        "{ providers(first: 1000) { nodes { articles(first: 1000) { nodes { url } } } } }",
        "{ articles(first: 1000) { nodes { related { related { related { url } } } } } }",
        "{ articles(first: 1000) { nodes { relatedBy { relatedBy { relatedBy { url } } } } } }",
        '{ a: subgraph(urls: ["$U"], depth: 3, limit: 3000) { export(format: GRAPHML) } }',
        '{ chains(from: "$U", to: "$U", k: 1000, maxLength: 12) { length } }',
        "{"
        + " ".join(f'r{i}: readingList(url: "$U", length: 1000) {{ url }}' for i in range(20))
        + "}",
    ],
    ids=["packed", "topics", "providers", "related", "relatedBy", "export", "chains", "reading"],
)
def test_every_fan_out_is_priced(big_server, query):
    t0 = time.perf_counter()
    r = _post(big_server, {"query": query.replace("$U", big_server.url)})
    assert _refused_by_cost(r), r.text[:300]
    assert time.perf_counter() - t0 < 2  # refused before it runs


# -- item 9: bad requests get a GraphQL error, never a 500 or a dropped socket -------------
_Q = b'{"query":"{ stats { version } }","variables":'
BAD_BODIES = {
    "deep-body": b"[" * 100_000 + b"]" * 100_000,
    "deep-variables": _Q + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep-object": _Q + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    "invalid-utf8": b'{"query":"{ stats { version } }\xff\xfe"}',
    "number": b"1",
    "string": b'"query"',
    "null": b"null",
    "batch": b'[{"query":"{ stats { version } }"}]',
    "5000-digits": _Q + b'{"a":' + b"9" * 5000 + b"}}",
    "subscription": b'{"query":"subscription { graphChanged { version } }"}',
    "query-not-string": b'{"query": 5}',
    "variables-not-object": _Q + b"[1]}",
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    with serve(None, tmp=tmp_path_factory.mktemp("bad")) as s:
        yield s


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_requests_get_a_graphql_error(seeds, name):
    r = seeds.client.post(
        "/graphql", content=BAD_BODIES[name], headers={"content-type": "application/json"}
    )
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and error["message"]
    assert "Traceback" not in seeds.logs()
    assert seeds.data("{ stats { version } }")


WS_BAD = {
    "list": "[1,2]",
    "payload-null": '{"id":"1","type":"subscribe","payload":null}',
    "deep": '{"id":"1","type":"subscribe","payload":' + "[" * 50_000 + "]" * 50_000 + "}",
    "number": "5",
    "variables-list": '{"id":"1","type":"subscribe","payload":{"query":"{ stats { version } }",'
    '"variables":[1]}}',
}


@pytest.mark.parametrize("name", list(WS_BAD))
def test_bad_websocket_messages_close_with_4400(seeds, name):
    from websockets.exceptions import ConnectionClosed

    from ..livetools import WSClient

    ws = WSClient(seeds.base)
    try:
        ws.ws.send(WS_BAD[name])
        with pytest.raises(ConnectionClosed) as closed:
            ws.ws.recv(5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    finally:
        ws.close()
    assert "Traceback" not in seeds.logs()


# -- item 12: the schema follows the read token and --no-introspection ----------------------
def test_schema_needs_the_read_token_and_is_hidden_without_introspection(tmp_path):
    env = {"GRAPHSVC_READ_TOKEN": "reader-token"}
    with serve(None, "--read-token", tmp=tmp_path, env=env) as s:
        assert s.client.get("/schema.graphql").status_code == 401
        assert (
            s.client.get("/schema.graphql", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
        r = s.client.get("/schema.graphql", headers={"Authorization": "Bearer reader-token"})
        assert r.status_code == 200 and "type Query" in r.text
    with serve(None, "--no-introspection", tmp=tmp_path) as s:
        r = s.client.get("/schema.graphql")
        assert r.status_code == 404 and "type Query" not in r.text


# -- item 14: control characters cannot forge access-log lines ------------------------------
def test_control_characters_do_not_forge_log_lines(seeds):
    forged = "GET /forged 200 - 0.1ms"
    r = seeds.client.get("/x%0a" + forged.replace(" ", "%20") + "%0d%1b[31m")
    assert r.status_code == 404
    seeds.client.post(
        "/graphql", json={"query": "{ stats { version } }", "operationName": "a\nGET /op 200"}
    )
    deadline = time.monotonic() + 5
    while "x\\x0aGET" not in seeds.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = seeds.logs().splitlines()
    assert any("/x\\x0aGET /forged" in line for line in lines), lines[-5:]
    assert not any(line.startswith(("GET /forged", "GET /op")) for line in lines)
    assert "\x1b" not in seeds.logs()
