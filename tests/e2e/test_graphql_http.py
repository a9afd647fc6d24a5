"""GraphQL over HTTP on a real server: the graphql-http audit suite (61 audits), media
types and status codes, JSON errors, a websocket offering no known subprotocol refused at
the handshake, Apollo's automatic persisted queries, and ETag caching of GET queries.

The audit runs the npm package graphql-http (``serverAudits``) with Node: it needs
``$GRAPHSVC_GRAPHQL_HTTP_AUDIT``, an npm prefix holding ``node_modules/graphql-http``
(``.ci/run`` installs it there: ``npm install --prefix DIR graphql-http@1.23.1``). It
skips without them, and fails instead with ``GRAPHSVC_REQUIRE_BROWSER=1`` (as CI sets).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ..conftest import REPO, need_browser, serve
from ..corpus import article, write
from ..livetools import AUTH, TOKEN, input_for, upsert, wait_for

AUDIT_SCRIPT = REPO / "tests" / "tools" / "graphql_http_audit.mjs"
GR = "application/graphql-response+json"
AUDITS = 61


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def apq(query_hash: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": query_hash}}


def post(server, body, accept: str | None = None, headers: dict | None = None):
    h = dict(headers or {})
    if accept:
        h["accept"] = accept
    return server.client.post("/graphql", json=body, headers=h)


def get(server, params: dict, headers: dict | None = None):
    params = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in params.items()}
    return server.client.get("/graphql", params=params, headers=headers or {})


#: Costs 24 on the seeds (4 articles, each with its related and relatedBy lists).
BIG = "{ articles(first: 100) { nodes { url related { url } relatedBy { url } topics { name } } } }"


def codes(r: httpx.Response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in r.json().get("errors", [])]


# -- the audit suite ------------------------------------------------------------------------


def test_graphql_http_audit_passes_all_61(seeds_server):
    node = shutil.which("node")
    need_browser(
        node is not None and shutil.which("npm") is not None, "Node.js and npm are not installed"
    )
    prefix = os.environ.get("GRAPHSVC_GRAPHQL_HTTP_AUDIT", "")
    installed = prefix and (Path(prefix) / "node_modules" / "graphql-http").is_dir()
    need_browser(
        bool(installed),
        "GRAPHSVC_GRAPHQL_HTTP_AUDIT names no npm prefix holding graphql-http "
        "(npm install --prefix DIR graphql-http@1.23.1)",
    )
    out = subprocess.run(
        [node, str(AUDIT_SCRIPT), prefix, seeds_server.base + "/graphql"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    failed = [r for r in results if r["status"] != "ok"]
    report = "\n".join(
        f"{r['id']} [{r['status']}] {r['name']}: {r.get('reason')} "
        f"(HTTP {r.get('httpStatus')}, {r.get('contentType')}) {r.get('body', '')[:160]}"
        for r in failed
    )
    assert not failed, f"{len(failed)} of {len(results)} audits fail:\n{report}"
    assert len(results) == AUDITS, [r["id"] for r in results]


# -- media types, status codes, errors -------------------------------------------------


def test_graphql_response_json_is_negotiated(seeds_server):
    r = post(seeds_server, {"query": "{ __typename }"}, accept=GR)
    assert r.status_code == 200 and r.headers["content-type"].startswith(GR)
    assert r.json() == {"data": {"__typename": "Query"}}
    # Preferred by quality over application/json, or not.
    r = post(seeds_server, {"query": "{ __typename }"}, accept=f"application/json;q=0.5, {GR}")
    assert r.headers["content-type"].startswith(GR)
    r = post(seeds_server, {"query": "{ __typename }"}, accept=f"{GR};q=0.2, application/json")
    assert r.headers["content-type"].startswith("application/json")
    for accept in (None, "*/*", "application/json"):
        r = post(seeds_server, {"query": "{ __typename }"}, accept=accept)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")


@pytest.fixture(scope="module")
def cheap_server(tmp_path_factory):
    """The seeds with ``--max-cost 10``, shared by the request-error cases (each only reads)."""
    with serve(None, "--max-cost", "10", tmp=tmp_path_factory.mktemp("cheap")) as s:
        yield s


@pytest.mark.parametrize(
    "body, code",
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),  # parse error
        ({"query": "{ noSuchField }"}, None),  # validation error
        ({"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}}, None),
        # refused by the cost limit before it runs: a request error too
        (
            {"query": BIG},
            "LIMIT_EXCEEDED",
        ),
    ],
)
def test_request_errors_are_400_without_data_for_graphql_response_json(cheap_server, body, code):
    s = cheap_server
    r = post(s, body, accept=GR)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(GR)
    assert "data" not in r.json() and r.json()["errors"], r.text
    if code == "LIMIT_EXCEEDED":
        assert codes(r) == ["LIMIT_EXCEEDED"]
    # The same request with application/json: 200 and "data": null, for compatibility.
    r = post(s, body, accept="application/json")
    assert r.status_code == 200 and r.json()["data"] is None and r.json()["errors"]


def test_an_operation_that_ran_is_200_with_its_field_errors(seeds_server):
    q = '{ stats { articles } article(url: "https://nowhere.example/x") { title } '
    q += 'chain(from: "https://nowhere.example/a", to: "https://nowhere.example/b") { length } }'
    r = post(seeds_server, {"query": q}, accept=GR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["stats"]["articles"] == 4 and body["data"]["chain"] is None
    assert body["errors"][0]["path"] == ["chain"]


@pytest.mark.parametrize("accept", [GR, "application/json"])
def test_refusals_are_graphql_json_errors_not_plain_text(seeds_server, accept):
    cases = [
        # a batch
        (lambda: post(seeds_server, [{"query": "{ __typename }"}] * 2, accept=accept), 400),
        # not JSON, no content type, a type Strawberry does not read
        (
            lambda: seeds_server.client.post(
                "/graphql", content=b"{ __typename }", headers={"accept": accept}
            ),
            400,
        ),
        (
            lambda: seeds_server.client.post(
                "/graphql",
                content=b"query=x",
                headers={"accept": accept, "content-type": "text/plain"},
            ),
            400,
        ),
        (lambda: post(seeds_server, {"notquery": "{ __typename }"}, accept=accept), 400),
        (lambda: post(seeds_server, {"query": 5}, accept=accept), 400),
    ]
    for send, status in cases:
        r = send()
        assert r.status_code == status, r.text
        assert r.headers["content-type"].split(";")[0] in (accept, "application/json"), r.headers
        errors = r.json()["errors"]
        assert errors[0]["message"] and errors[0]["extensions"]["code"] == "BAD_REQUEST"
        assert errors[0]["extensions"]["requestId"] == r.headers["x-request-id"]


def test_mutations_and_subscriptions_are_refused_over_get_with_405(tmp_path):
    with serve(None, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        for q in (
            'mutation { deleteArticle(url: "https://x.example/a") { url } }',
            "subscription { graphChanged { version } }",
            "query A { __typename } mutation B { __typename }",
        ):
            params = {"query": q}
            if "query A" in q:
                params["operationName"] = "B"
            r = get(s, params, headers={**AUTH, "accept": GR})
            assert r.status_code == 405, r.text
            assert r.headers["allow"] == "POST" and "etag" not in r.headers
            assert codes(r) == ["METHOD_NOT_ALLOWED"] and "POST" in r.json()["errors"][0]["message"]


# -- websockets: a socket offering neither subprotocol is refused at the handshake ------------
# (The legacy graphql-ws was refused too until issue 23 item 5: both are served now, see
# tests/test_websocket_protocols.py.)


def test_a_websocket_without_a_known_subprotocol_is_refused_at_the_handshake(seeds_server):
    url = seeds_server.base.replace("http://", "ws://") + "/graphql"
    for offered in (["graphql-sse"], None):
        with pytest.raises(InvalidStatus) as e:
            connect(url, subprotocols=offered, open_timeout=10).close()
        response = e.value.response
        assert response.status_code == 400
        body = json.loads(response.body)
        message = body["errors"][0]["message"]
        assert "graphql-transport-ws" in message and "graphql-ws" in message, message
        assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_SUBPROTOCOL"


def test_a_client_offering_both_subprotocols_gets_graphql_transport_ws(seeds_server):
    # gql's websockets transport offers graphql-ws first, then graphql-transport-ws.
    url = seeds_server.base.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-ws", "graphql-transport-ws"]) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(10))["type"] == "connection_ack"
        q = {"query": "{ stats { articles } }"}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": q}))
        msg = json.loads(ws.recv(10))
        assert msg == {"id": "1", "type": "next", "payload": {"data": {"stats": {"articles": 4}}}}
        assert json.loads(ws.recv(10)) == {"id": "1", "type": "complete"}


# -- automatic persisted queries --------------------------------------------------------------

Q = "query Few($n: Int!) { articles(first: $n) { totalCount nodes { url title } } }"


def test_apq_not_found_then_registered_over_post_and_get(tmp_path):
    with serve(None, tmp=tmp_path) as s:
        h = sha(Q)
        want = s.data(Q, {"n": 2})  # the plain query's answer
        assert want["articles"]["totalCount"] == 4 and len(want["articles"]["nodes"]) == 2
        # Unknown hash, by POST and by GET: Apollo's error, which its clients look for.
        for r in (
            post(s, {"extensions": apq(h), "variables": {"n": 2}}),
            get(s, {"extensions": apq(h), "variables": {"n": 2}}),
        ):
            assert r.status_code == 200, r.text
            err = r.json()["errors"][0]
            assert err["message"] == "PersistedQueryNotFound"
            assert err["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            assert "data" not in r.json()
        # The client sends the document with its hash: it runs and is registered.
        r = post(s, {"query": Q, "extensions": apq(h), "variables": {"n": 2}})
        assert r.status_code == 200 and r.json() == {"data": want}
        # From now on the hash alone runs it, by POST and by GET, with other variables too.
        r = post(s, {"extensions": apq(h), "variables": {"n": 2}})
        assert r.json() == {"data": want}
        r = get(s, {"extensions": apq(h), "variables": {"n": 2}, "operationName": "Few"})
        assert r.status_code == 200 and r.json() == {"data": want}
        r = get(s, {"extensions": apq(h.upper()), "variables": {"n": 3}})
        assert len(r.json()["data"]["articles"]["nodes"]) == 3
        # Registration by GET works the same.
        q2 = "{ stats { articles providers } }"
        assert codes(get(s, {"extensions": apq(sha(q2))})) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert get(s, {"query": q2, "extensions": apq(sha(q2))}).json() == {"data": s.data(q2)}
        assert get(s, {"extensions": apq(sha(q2))}).json() == {"data": s.data(q2)}


def test_apq_wrong_hash_and_version_are_refused(tmp_path):
    with serve(None, tmp=tmp_path) as s:
        wrong = sha("{ __typename }")
        for send in (post, get):
            r = send(s, {"query": Q, "extensions": apq(wrong), "variables": {"n": 1}})
            assert r.status_code == 400 and codes(r) == ["BAD_REQUEST"], r.text
            assert "does not match" in r.json()["errors"][0]["message"]
        # Not registered under the wrong hash.
        assert codes(post(s, {"extensions": apq(wrong)})) == ["PERSISTED_QUERY_NOT_FOUND"]
        r = post(s, {"query": Q, "extensions": apq(sha(Q), version=2), "variables": {"n": 1}})
        assert r.status_code == 400 and "version" in r.json()["errors"][0]["message"]
        r = post(s, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}})
        assert r.status_code == 400 and codes(r) == ["BAD_REQUEST"]
        # With application/graphql-response+json the not-found error is a 400 too.
        r = post(s, {"extensions": apq(sha("{ stats { files } }"))}, accept=GR)
        assert r.status_code == 400 and codes(r) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_apq_needs_the_read_token_and_obeys_the_cost_limit(tmp_path):
    env = {"GRAPHSVC_READ_TOKEN": "reader-token"}
    reader = {"Authorization": "Bearer reader-token"}
    with serve(None, "--read-token", "--max-cost", "10", tmp=tmp_path, env=env) as s:
        h = sha(Q)
        r = post(s, {"query": Q, "extensions": apq(h), "variables": {"n": 1}})
        assert r.status_code == 401  # not even registered without the token
        r = post(s, {"query": Q, "extensions": apq(h), "variables": {"n": 1}}, headers=reader)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        for send in (post, get):
            r = send(s, {"extensions": apq(h), "variables": {"n": 1}})
            assert r.status_code == 401, r.text
            r = send(s, {"extensions": apq(h), "variables": {"n": 1}}, headers=reader)
            assert r.status_code == 200 and len(r.json()["data"]["articles"]["nodes"]) == 1
        # An expensive document is refused exactly as when sent in full.
        big = BIG
        full = post(s, {"query": big}, headers=reader).json()["errors"][0]
        r = post(s, {"query": big, "extensions": apq(sha(big))}, headers=reader)
        persisted = post(s, {"extensions": apq(sha(big))}, headers=reader).json()["errors"][0]
        assert r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        for e in (full, persisted):
            e["extensions"].pop("requestId")
        assert persisted == full and full["extensions"]["limit"] == "max-cost"


def test_apq_store_is_bounded_least_recently_used_first(tmp_path):
    # 0.002 MB: room for a handful of short documents.
    with serve(None, tmp=tmp_path, env={"GRAPHSVC_PERSISTED_QUERIES_MB": "0.002"}) as s:
        docs = [f"query Q{i} {{ stats {{ articles }} }}" + " " * 150 for i in range(12)]
        for d in docs:
            assert post(s, {"query": d, "extensions": apq(sha(d))}).json()["data"]
            post(s, {"extensions": apq(sha(docs[0]))})  # keeps the first one in use
        known = ["errors" not in post(s, {"extensions": apq(sha(d))}).json() for d in docs]
        assert known[0] and known[-1], known
        assert not all(known) and sum(known) >= 3, known
    with serve(None, tmp=tmp_path, env={"GRAPHSVC_PERSISTED_QUERIES_MB": "0"}) as s:
        r = post(s, {"query": Q, "extensions": apq(sha(Q)), "variables": {"n": 1}})
        assert codes(r) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
        assert post(s, {"query": Q, "variables": {"n": 1}}).json()["data"]


# -- HTTP caching of GET queries ----------------------------------------------------------------


def test_get_answers_carry_an_etag_and_revalidate_with_304(tmp_path):
    folder = tmp_path / "corpus"
    write(folder, "a.md", article("https://etag.example/a", "First title"))
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        q = "{ stats { version articles } articles(first: 5) { nodes { url title } } }"
        r = get(s, {"query": q})
        assert r.status_code == 200 and "errors" not in r.json()
        tag = r.headers["etag"]
        assert tag.startswith('W/"') and r.headers["cache-control"] == (
            "public, max-age=0, must-revalidate"
        )
        assert "Accept" in r.headers["vary"]
        # Revalidation: 304, no body, same headers.
        again = get(s, {"query": q}, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tag and "cache-control" in again.headers
        assert get(s, {"query": q}, headers={"If-None-Match": f'"x", {tag}'}).status_code == 304
        # Another document, other variables, operation or media type: another ETag.
        q2 = "query($n: Int!) { articles(first: $n) { nodes { url } } }"
        tags = {
            tag,
            get(s, {"query": q2, "variables": {"n": 1}}).headers["etag"],
            get(s, {"query": q2, "variables": {"n": 2}}).headers["etag"],
            get(s, {"query": q}, headers={"accept": GR}).headers["etag"],
        }
        assert len(tags) == 4
        assert (
            get(s, {"query": q2, "variables": {"n": 2}}, headers={"If-None-Match": tag}).status_code
            == 200
        )
        # POST answers and error answers carry none.
        assert "etag" not in post(s, {"query": q}).headers
        assert "etag" not in get(s, {"query": "{ nope }"}).headers
        # A write makes a new graph version: the old ETag no longer matches.
        upsert(s, input_for("https://etag.example/a", "Second title"))
        fresh = wait_for(
            lambda: (
                (r := get(s, {"query": q}, headers={"If-None-Match": tag})).status_code == 200 and r
            ),
            what="a 200 after the write",
        )
        assert fresh.headers["etag"] != tag
        assert fresh.json()["data"]["articles"]["nodes"][0]["title"] == "Second title"
        assert (
            get(s, {"query": q}, headers={"If-None-Match": fresh.headers["etag"]}).status_code
            == 304
        )


def test_persisted_get_queries_revalidate_and_private_with_a_read_token(tmp_path):
    env = {"GRAPHSVC_READ_TOKEN": "reader-token"}
    reader = {"Authorization": "Bearer reader-token"}
    with serve(None, "--read-token", tmp=tmp_path, env=env) as s:
        h = sha(Q)
        post(s, {"query": Q, "extensions": apq(h), "variables": {"n": 2}}, headers=reader)
        params = {"extensions": apq(h), "variables": {"n": 2}}
        r = get(s, params, headers=reader)
        assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
        assert "Authorization" in r.headers["vary"]
        tag = r.headers["etag"]
        r = get(s, params, headers={**reader, "If-None-Match": tag})
        assert r.status_code == 304 and r.content == b""
        # Without the token: 401, never a 304.
        assert get(s, params, headers={"If-None-Match": tag}).status_code == 401
