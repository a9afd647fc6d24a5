"""Issue 24: a document is parsed once and priced once per request, and the parse
travels with the request (``http_edge.RequestState.parsed``).

In process (``httpx.ASGITransport``; Starlette's test client for the websocket), on the
app ``create_app`` builds. Parses are counted by wrapping graphql-core's
``Parser.parse_document`` (every parse, ours and Strawberry's, goes through it), pricings
by wrapping ``cost.estimate_cost_and_dependence`` (what ``cost.estimate`` runs)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import urllib.parse

import httpx
import pytest
from graphql.language.parser import Parser
from starlette.testclient import TestClient

from graphsvc.api import cost, memo
from graphsvc.api.app import create_app
from graphsvc.graph.current import GraphStore

from .test_read_walk import small_graph

_fresh = itertools.count()


class Counts:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parses = 0
        self.prices = 0
        parse_document = Parser.parse_document
        estimate = cost.estimate_cost_and_dependence

        def counting_parse(parser):
            self.parses += 1
            return parse_document(parser)

        def counting_estimate(*args, **kwargs):
            self.prices += 1
            return estimate(*args, **kwargs)

        monkeypatch.setattr(Parser, "parse_document", counting_parse)
        monkeypatch.setattr(cost, "estimate_cost_and_dependence", counting_estimate)

    def reset(self) -> None:
        self.parses = self.prices = 0


@pytest.fixture
def counts(monkeypatch):
    memo.documents.clear()
    return Counts(monkeypatch)


@pytest.fixture(scope="module")
def graph():
    return small_graph()


def new_query(fields: str = "title") -> str:
    """A document this process has not seen (so no cache holds it)."""
    return f'query Q{next(_fresh)} {{ article(url: "https://nowhere.example/") {{ {fields} }} }}'


def run(app, *requests):
    """Send ``requests`` ((method, kwargs) pairs) in turn; their responses."""

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(m, kw.pop("url", "/graphql"), **kw) for m, kw in requests]

    return asyncio.run(main())


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body


def test_a_new_document_is_parsed_once_and_priced_once(graph, counts):
    app = create_app(GraphStore(graph))
    (r,) = run(app, ("POST", {"json": {"query": new_query()}}))
    ok(r)
    assert (counts.parses, counts.prices) == (1, 1)


def test_a_document_seen_before_is_not_parsed_again(graph, counts):
    app = create_app(GraphStore(graph))
    query = new_query("title url")
    body = {"query": query}
    ok(run(app, ("POST", {"json": body}))[0])
    counts.reset()
    # POSTed again: prepared (its price does not depend on its variables), so neither
    # parsed nor priced again.
    ok(run(app, ("POST", {"json": body}))[0])
    assert (counts.parses, counts.prices) == (0, 0)
    # By GET (never prepared): the parse is the document cache's; priced once.
    get = urllib.parse.urlencode(body)
    ok(run(app, ("GET", {"url": f"/graphql?{get}"}))[0])
    assert (counts.parses, counts.prices) == (0, 1)


def test_a_get_query_is_parsed_once_and_priced_once(graph, counts):
    app = create_app(GraphStore(graph))
    query = urllib.parse.urlencode({"query": new_query()})
    ok(run(app, ("GET", {"url": f"/graphql?{query}"}))[0])
    assert (counts.parses, counts.prices) == (1, 1)


def test_a_persisted_query_is_parsed_once_when_registered_and_when_used(graph, counts):
    app = create_app(GraphStore(graph))
    query = new_query()
    sha = hashlib.sha256(query.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    ok(run(app, ("POST", {"json": {"query": query, "extensions": ext}}))[0])
    assert (counts.parses, counts.prices) == (1, 1)
    counts.reset()
    memo.documents.clear()  # the hash alone, its document no longer parsed in the process
    ok(run(app, ("POST", {"json": {"extensions": ext}}))[0])
    assert (counts.parses, counts.prices) == (1, 1)


def test_one_operation_of_a_multi_operation_document(graph, counts):
    app = create_app(GraphStore(graph))
    query = new_query() + " query Other { stats { articles } } mutation M { __typename }"
    (r,) = run(app, ("POST", {"json": {"query": query, "operationName": "Other"}}))
    assert ok(r)["data"]["stats"]["articles"] > 0
    assert (counts.parses, counts.prices) == (1, 1)


def test_a_document_that_does_not_parse_is_parsed_once(graph, counts):
    app = create_app(GraphStore(graph))
    (r,) = run(app, ("POST", {"json": {"query": "{ article(url: " + str(next(_fresh))}}))
    assert "Syntax Error" in r.json()["errors"][0]["message"], r.text
    assert r.json()["errors"][0]["locations"], r.text
    assert counts.parses == 1 and counts.prices == 0


def test_a_subscription_is_parsed_once_and_its_where_priced_once(graph, counts):
    app = create_app(GraphStore(graph))
    n = next(_fresh)
    query = (
        f'subscription S{n} {{ articleChanged(where: {{ title: {{ contains: "x{n}" }} }}) '
        "{ url } }"
    )
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_text(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"
        counts.reset()
        ws.send_text(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query}}))
        ws.send_text(json.dumps({"type": "ping"}))
        # The pong comes once the subscription started: parsed, validated and priced
        # (this server follows no folder, so its resolver then answers an error).
        seen = [json.loads(ws.receive_text()) for _ in range(3)]
        assert seen[-1]["type"] == "pong", seen
        assert "does not follow a corpus folder" in json.dumps(seen[0]), seen
        ws.send_text(json.dumps({"type": "complete", "id": "1"}))
    assert (counts.parses, counts.prices) == (1, 1)
