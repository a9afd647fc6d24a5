"""issue 9 items 8 and 13: control characters and bad URLs, from files and from writes.

URLs with whitespace or control characters are refused in writes and reported in files
(kept in extra, never used as an identity); control characters in titles, names and
topics are reported and kept in extra; GraphML and GEXF exports are well-formed XML.
"""

from __future__ import annotations

import io
import json
import os
import xml.dom.minidom

import networkx as nx
import pytest

from graphsvc.graph.formats import export_lines, xml_safe

from ..conftest import serve
from ..corpus import article, write
from ..livetools import TOKEN, errors, input_for, upsert
from ..livetools import write as gql_write

UPSERT = """mutation($input: ArticleInput!) { upsertArticle(input: $input) { url paths } }"""
GOOD = "https://text.example/good"

#: name: (front matter text after the URL line, line of the error, words, extra key)
FILES = {
    "topic-ctrl.md": ('topics: ["AI", "a\\u0001b"]', 4, "U+0001", "topics"),
    "type-ctrl.md": ('type: "bell\\a"', 4, "U+0007", "type"),
    # prose keeps them, with a warning: excerpt is kept as written
    "excerpt-ctrl.md": ('excerpt: "tab\\vvtab"', 4, "U+000B", None),
    "provider-ctrl.md": ('provider: {name: "P\\x1bQ", domain: ctrl.example}', 4, "U+001B", None),
    "nonchar.md": ('category: "x\\uffffy"', 4, "U+FFFF", "category"),
    "url-space.md": ('originalUrl: "https://text.example/a b"', 4, "a space", "originalUrl"),
    "url-crlf.md": (
        'ampWebUrl: "https://text.example/x\\r\\nSet-Cookie: a=1"',
        4,
        "carriage return",
        "ampWebUrl",
    ),
}


@pytest.fixture(scope="module")
def text_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    write(folder, "good.md", article(GOOD, "Good", topics=["AI", "Tab\tok"]))
    for i, (name, (lines, *_)) in enumerate(FILES.items()):
        (folder / name).write_text(
            f"---\nwebUrl: https://text.example/f{i}\ntitle: F{i}\n{lines}\n---\n",
            encoding="utf-8",
        )
    env = {"GRAPHSVC_TOKEN": TOKEN}
    with serve(folder, tmp=tmp_path_factory.mktemp("text-srv"), env=env) as s:
        s.folder = folder
        yield s


def test_control_characters_and_bad_urls_in_files_are_reported_and_kept(text_server):
    rows = text_server.data("{ loadReport { path line message severity } }")["loadReport"]
    for i, (name, (_, line, words, key)) in enumerate(FILES.items()):
        mine = [r for r in rows if r["path"] == name]
        severity = "warning" if name == "excerpt-ctrl.md" else "error"
        assert len(mine) == 1 and mine[0]["severity"] == severity, (name, mine)
        assert mine[0]["line"] == line and words in mine[0]["message"], (name, mine)
        a = text_server.data(
            "query($u: String!) { article(url: $u) { url title extra topics { name } "
            "provider { name } } }",
            {"u": f"https://text.example/f{i}"},
        )["article"]
        assert a is not None, name  # the rest of the file is served
        if key is not None:
            assert key in a["extra"], (name, a["extra"])  # never silently dropped
    topics = text_server.data(
        '{ article(url: "https://text.example/f0") { topics { name } extra } }'
    )["article"]
    assert topics == {"topics": [{"name": "AI"}], "extra": {"topics": ["a\x01b"]}}
    i = list(FILES).index("excerpt-ctrl.md")
    q = f'{{ article(url: "https://text.example/f{i}") {{ excerpt extra }} }}'
    assert text_server.data(q)["article"] == {"excerpt": "tab\vvtab", "extra": {}}


def _parse_xml(text: str, fmt: str) -> nx.Graph:
    xml.dom.minidom.parseString(text.encode())  # well-formed, or this raises
    reader = nx.read_graphml if fmt == "graphml" else nx.read_gexf
    return reader(io.BytesIO(text.encode()))


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_exports_are_well_formed(text_server, fmt):
    r = text_server.client.get(f"/export/{fmt}")
    assert r.status_code == 200, r.text[:300]
    g = _parse_xml(r.text, fmt)
    assert GOOD in g and "topic:tab\tok" in g  # tabs are XML: kept as they are
    # the same through GraphQL, around the good article
    q = f'{{ subgraph(urls: ["{GOOD}"], edgeKinds: [TAGGED]) {{ export(format: {fmt.upper()}) }} }}'
    _parse_xml(text_server.data(q)["subgraph"]["export"], fmt)


@pytest.mark.parametrize(
    "field, url, words",
    [
        ("webUrl", "https://crlf.example/\r\nSet-Cookie: x=1", "carriage return"),
        ("webUrl", "https://nul.example/a\x00b", "NUL"),
        ("webUrl", "https://space.example/a b", "a space"),
        ("webUrl", "https://tab.example/a\tb", "a tab"),
        ("originalUrl", "https://lf.example/a\nb", "line break"),
    ],
)
def test_upsert_refuses_urls_with_whitespace_or_controls(text_server, field, url, words):
    before = sorted(os.listdir(text_server.folder))
    fields = {"webUrl": "https://fine.example/x"} if field != "webUrl" else {}
    body = gql_write(text_server, UPSERT, {"input": {**input_for(url, "T"), **fields, field: url}})
    msgs = errors(body)
    assert msgs and words in msgs[0] and field in msgs[0], body
    assert "kept in extra" not in msgs[0]
    assert sorted(os.listdir(text_server.folder)) == before  # nothing written


def test_upsert_refuses_control_characters_in_topics(text_server):
    body = gql_write(
        text_server, UPSERT, {"input": input_for("https://w.example/t", "T", topics=["a\x01b"])}
    )
    assert errors(body) and "U+0001" in errors(body)[0], body
    # ... and a clean one is written and exported as XML
    upsert(text_server, input_for("https://w.example/ok", "Fine \u00e9"))
    _parse_xml(text_server.client.get("/export/graphml").text, "graphml")


def test_xml_safe_keeps_distinct_ids_distinct():
    g = nx.DiGraph()
    g.add_node("topic:a\x01b", label="a\x01b")
    g.add_node("topic:a\x02b", label="a\x02b")
    g.add_edge("topic:a\x01b", "topic:a\x02b", kind="X\ufffe")
    safe = xml_safe(g)
    assert sorted(safe) == ["topic:a\\u0001b", "topic:a\\u0002b"]
    for fmt in ("graphml", "gexf"):
        _parse_xml("\n".join(export_lines(g, fmt)), fmt)
    clean = nx.DiGraph([("a", "b")])
    assert xml_safe(clean) is clean  # nothing copied when nothing needs it


@pytest.mark.parametrize("extra", ['{"x": NaN}', '{"x": 1e999}', '{"x": [1, -1e999]}'])
def test_upsert_refuses_numbers_that_cannot_be_served(text_server, extra):
    """JSON readers that take NaN or 1e999 hand the write inf/nan: it is refused as a
    file holding them would be reported, and nothing is written."""
    before = sorted(os.listdir(text_server.folder))
    article = '{"webUrl": "https://num.example/a", "title": "N", "extra": ' + extra + "}"
    body = '{"query": ' + json.dumps(UPSERT) + ', "variables": {"input": ' + article + "}}"
    r = text_server.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    msgs = errors(r.json())
    assert msgs and "not a finite number" in msgs[0] and "kept in extra" not in msgs[0], msgs
    assert sorted(os.listdir(text_server.folder)) == before
