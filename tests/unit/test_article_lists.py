"""The article lists (``articles``, ``Provider.articles``, ``Topic.articles``) spell their
arguments once and share one engine (``api/articles.py``): checked in process, no server."""

from __future__ import annotations

import pytest

from graphsvc.api.articles import ListRequest
from graphsvc.api.filters import ArticleFilter
from graphsvc.api.schema import schema
from graphsvc.files.loader import load_corpus
from graphsvc.graph import query as gq
from graphsvc.graph.build import build_graph

from ..conftest import SEEDS


def _args(type_name: str, field: str) -> dict:
    f = schema._schema.get_type(type_name).fields[field]
    return {name: (str(a.type), a.default_value) for name, a in f.args.items()}


@pytest.mark.parametrize("owner", ["Provider", "Topic"])
def test_every_article_list_takes_the_same_arguments(owner):
    mine, query = _args(owner, "articles"), _args("Query", "articles")
    assert list(mine) == list(query)
    assert {k: v for k, v in mine.items() if k != "first"} == {
        k: v for k, v in query.items() if k != "first"
    }
    assert mine["first"] == ("Int", 20) and query["first"] == ("Int", None)


def test_a_filter_outside_the_scope_matches_nothing():
    scope = gq.ArticleQuery(provider="example.com")
    outside = ListRequest(filter=ArticleFilter(provider="other.org"), scope=scope).query()
    assert (outside.provider, outside.topic) == ("", "")
    inside = ListRequest(filter=ArticleFilter(provider="EXAMPLE.com"), scope=scope).query()
    assert inside.provider == "example.com"
    assert ListRequest(scope=gq.ArticleQuery(topic="AI")).query().topic == "AI"


def test_a_providers_and_a_topics_list_are_the_filtered_list():
    lg = build_graph(load_corpus(SEEDS, workers=1))

    def run(query: str, **variables) -> dict:
        r = schema.execute_sync(query, variable_values=variables, context_value={"graph": lg})
        assert r.errors is None, r.errors
        return r.data

    def urls(conn: dict) -> list[str]:
        return [n["url"] for n in conn["nodes"]]

    page = "first: 50, orderBy: QUALITY_DESC"
    domain, topic = lg.providers()[0].domain, lg.topics()[0].name
    d = run(
        f"query($d: String!, $t: String!) {{"
        f" byProvider: articles(filter: {{provider: $d}}, {page}) {{ nodes {{ url }} }}"
        f" byTopic: articles(filter: {{topic: $t}}, {page}) {{ nodes {{ url }} }}"
        f" provider(domain: $d) {{ articles({page}) {{ nodes {{ url }} }} }}"
        f" topic(name: $t) {{ articles({page}) {{ nodes {{ url }} }} }} }}",
        d=domain,
        t=topic,
    )
    assert urls(d["byProvider"]) and urls(d["byProvider"]) == urls(d["provider"]["articles"])
    assert urls(d["byTopic"]) and urls(d["byTopic"]) == urls(d["topic"]["articles"])
