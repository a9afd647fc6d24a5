"""The docs' table example (docs/maps-and-exports.md) works on real corpora under the
default limits (issue 22 item 2: the cost estimate multiplied a table's `limit` by the
page size, so the example was refused by max-cost on 53 articles)."""

from __future__ import annotations

import re

import pytest

from ..conftest import REPO, SHARED_CORPUS

CORPORA = ["everyday-ai", "powerapps-news"]


def readme_table_example() -> str:
    """The GraphQL block of the docs' "Lists out as tables" section, verbatim."""
    text = (REPO / "docs" / "maps-and-exports.md").read_text()
    section = text.split("## Lists out as tables", 1)[1].split("\n## ", 1)[0]
    query = re.search(r"```graphql\n(.*?)```", section, re.S).group(1)
    assert "table(" in query, query
    return query


@pytest.fixture(scope="module", params=CORPORA)
def corpus_server(request, read_only_server):
    folder = SHARED_CORPUS / request.param
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    # Default limits: no --max-cost.
    return read_only_server(folder)


def test_readme_table_example_answers_under_default_limits(corpus_server):
    s = corpus_server
    table = s.data(readme_table_example())["articles"]["table"]
    lines = table.split("\r\n")
    assert lines[0] == "url,quality,topics"
    rows = [line for line in lines[1:] if line]
    count = s.data("{ articles(where: {isStub: {eq: false}}) { totalCount } }")["articles"]
    assert len(rows) == min(1000, count["totalCount"]) > 20  # more than one page's worth
    urls = [r.split(",", 1)[0] for r in rows]
    assert urls == sorted(urls)  # sort: [{field: URL}]


def test_a_table_of_every_article_answers_under_default_limits(corpus_server):
    s = corpus_server
    n = s.data("{ stats { articles } }")["stats"]["articles"]
    body = s.gql("{ articles(first: 100) { totalCount table(format: JSONL, limit: 10000) } }")
    assert "errors" not in body, body["errors"]
    assert body["data"]["articles"]["table"].count("\n") == body["data"]["articles"]["totalCount"]
    assert body["data"]["articles"]["totalCount"] <= n


def test_tables_repeated_per_provider_are_priced_by_their_rows(corpus_server):
    # One table per provider's list, each up to every article: admitted while that
    # fits the default max-cost (10000), refused by name past it.
    s = corpus_server
    stats = s.data("{ stats { articles providers } }")["stats"]
    q = "{ providers(first: 1000) { nodes { articles { table(limit: 10000) } } } }"
    body = s.gql(q)
    per_provider = 1 + 2 * stats["articles"]  # itself, a page, a table: at most
    if stats["providers"] * per_provider <= 10_000:
        assert "errors" not in body, body["errors"]
        return
    assert stats["providers"] * stats["articles"] > 10_000  # the tables alone
    err = body["errors"][0]
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED", err
    assert err["extensions"]["limit"] == "max-cost", err
    assert "table" in err["message"], err
