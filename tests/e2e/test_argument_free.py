"""Every field that can be asked without arguments answers when asked without any, on the
seeds and on every shared corpus (issue 22 item 1: `{ articles { totalCount } }`, the
first query a GraphiQL user types, answered `internal error`)."""

from __future__ import annotations

import json

import pytest

from graphsvc.api.schema import schema as app_schema

from ..conftest import SEEDS, SHARED_CORPUS
from ..schema_walk import argument_free_asks

CORPORA = {
    "seeds": SEEDS,
    "everyday-ai": SHARED_CORPUS / "everyday-ai",
    "powerapps-news": SHARED_CORPUS / "powerapps-news",
    "powerapps-newsletters": SHARED_CORPUS / "powerapps-newsletters",
    "all": SHARED_CORPUS,  # the three folders as one corpus
}

#: The lists of the issue, verbatim in spirit: no argument on the list itself.
ISSUE_QUERIES = [
    "{ articles { totalCount } }",
    "{ articles { totalCount nodes { url } pageInfo { hasNextPage endCursor } } }",
    "query($d: String!) { provider(domain: $d) { articles { totalCount } } }",
    "query($t: String!) { topic(name: $t) { articles { totalCount edges { node { url } } } } }",
]


@pytest.fixture(scope="module", params=list(CORPORA))
def corpus(request, read_only_server):
    folder = CORPORA[request.param]
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return request.param, read_only_server(folder)


def _values(s) -> dict[str, str]:
    """GraphQL literals for required arguments, from what this corpus holds."""
    d = s.data(
        "{ articles(first: 2, orderBy: RELATED_COUNT_DESC) { nodes { id url } }"
        " providers(first: 1) { nodes { domain } } topics(first: 1) { nodes { name } } }"
    )
    a = d["articles"]["nodes"]
    url, other = a[0]["url"], a[-1]["url"]
    lit = json.dumps
    values = {
        "url": lit(url),
        "from": lit(url),
        "to": lit(other),
        "urls": f"[{lit(url)}]",
        "id": lit(a[0]["id"]),
        "query": lit("ai"),
    }
    # The newsletters have neither providers nor topics: those lists answer null there.
    providers, topics = d["providers"]["nodes"], d["topics"]["nodes"]
    values["domain"] = lit(providers[0]["domain"] if providers else "example.com")
    values["name"] = lit(topics[0]["name"] if topics else "AI")
    return values


def _assert_answers(s, query: str, variables: dict | None = None) -> dict:
    r = s.client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert r.status_code == 200, (query, r.status_code, r.text[:300])
    body = r.json()
    assert not body.get("errors"), (query, body["errors"])
    return body["data"]


def test_the_issue_lists_answer_without_arguments(corpus):
    name, s = corpus
    v = _values(s)
    variables = {"d": json.loads(v["domain"]), "t": json.loads(v["name"])}
    total = _assert_answers(s, ISSUE_QUERIES[0])["articles"]["totalCount"]
    assert total == s.data("{ stats { articles } }")["stats"]["articles"] or total > 0
    for q in ISSUE_QUERIES[1:]:
        _assert_answers(s, q, variables)


def test_every_argument_free_field_answers_without_arguments(corpus):
    name, s = corpus
    asks = argument_free_asks(app_schema._schema, _values(s))
    # The walk reaches every list the issue names, asked bare.
    asked = {(a.type_name, a.field) for a in asks}
    assert {("Query", "articles"), ("Provider", "articles"), ("Topic", "articles")} <= asked
    assert len(asks) > 100, len(asks)
    failed = []
    for ask in asks:
        r = s.client.post("/graphql", json={"query": ask.query})
        body = r.json() if r.status_code == 200 else {"status": r.status_code, "text": r.text}
        if r.status_code != 200 or body.get("errors"):
            failed.append((ask.type_name, ask.field, ask.query, body))
    assert not failed, f"{len(failed)} of {len(asks)} on {name}:\n" + "\n".join(
        f"{t}.{f}: {q}\n  -> {str(b)[:300]}" for t, f, q, b in failed[:20]
    )
