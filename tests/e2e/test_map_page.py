"""The map page and GraphiQL over a real server, read as HTTP (browser tests: test_browser.py)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ..conftest import serve
from ..news import CENTRE, neighbourhood, related_pairs, title, url, write_news

ALL_KINDS = ("RELATED", "PUBLISHED_BY", "TAGGED")
XSS_TITLE = "<script>alert('t')</script><iframe src=\"https://evil.example\"></iframe>"
XSS_IMG = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def news_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("news")
    folder = write_news(tmp / "corpus", {"on-device-models": XSS_TITLE, "shortage-easing": XSS_IMG})
    # No GraphiQL assets folder, whatever the environment says: the page uses the CDN.
    with serve(folder, tmp=tmp, env={"GRAPHSVC_GRAPHIQL_ASSETS": ""}) as s:
        yield s


def node_keys(page: str) -> list[str]:
    return [html.unescape(k) for k in re.findall(r'<g class="node[^"]*" data-key="([^"]*)"', page)]


def edges(page: str) -> set[tuple[str, str, str]]:
    found = re.findall(
        r'<line class="edge (\w+)" data-source="([^"]*)" data-target="([^"]*)"', page
    )
    return {(html.unescape(s), html.unescape(t), k.upper()) for k, s, t in found}


def get_map(server, **params):
    """The static (server-drawn SVG) map; the interactive one is in test_browser.py."""
    return server.client.get("/map/static", params=params)


def test_map_draws_the_neighbourhood_networkx_finds(news_server):
    for depth, kinds in [(2, ("RELATED",)), (1, ("RELATED",)), (2, ALL_KINDS)]:
        r = get_map(news_server, url=CENTRE, depth=depth, edges=",".join(kinds))
        assert r.status_code == 200
        keys = node_keys(r.text)
        expected = neighbourhood(CENTRE, depth, kinds)
        assert len(keys) == len(set(keys)) and set(keys) == expected, (depth, kinds)
        related = {(s, t) for s, t, k in edges(r.text) if k == "RELATED"}
        assert related == related_pairs(expected)
    assert len(node_keys(get_map(news_server, url=CENTRE).text)) == 10  # depth 2, RELATED


def test_map_page_marks_centre_sizes_and_links(news_server):
    page = get_map(news_server, url=url("cloud-chips") + "/?utm_source=x").text  # any spelling
    centre = re.findall(r'<g class="node article centre" data-key="([^"]*)"', page)
    assert centre == [url("cloud-chips")]
    # sized by degree: three related links (two out, one in) against a stub's one
    degree = dict(re.findall(r'data-key="([^"]*)" data-kind="ARTICLE" data-degree="(\d+)"', page))
    assert degree[url("cloud-chips")] == "3" and degree[url("custom-silicon-costs")] == "1"
    radius = dict(
        re.findall(r'data-key="([^"]*)"[^>]*>(?:<title>[^<]*</title>)<circle r="([\d.]+)"', page)
    )
    assert float(radius[url("cloud-chips")]) > float(radius[url("custom-silicon-costs")])
    # each node links to the map centred on it, keeping non-default options
    page = get_map(news_server, url=CENTRE, depth=1, edges="related,tagged").text
    links = re.findall(r'<a href="(/map/static\?[^"]*)"><g class="node', page)
    assert len(links) == len(node_keys(page))
    params = [parse_qs(urlsplit(html.unescape(a)).query) for a in links]
    assert {p["url"][0] for p in params} == set(node_keys(page))
    assert all(p["depth"] == ["1"] and p["edges"] == ["RELATED,TAGGED"] for p in params)


def test_hover_text_has_title_provider_and_date(news_server):
    page = get_map(news_server, url=CENTRE).text
    hover = re.search(
        rf'data-key="{re.escape(url("cloud-chips"))}"[^>]*><title>([^<]*)</title>', page
    ).group(1)
    assert html.unescape(hover).split("\n") == [
        title("cloud-chips"),
        "Cloud Post · 2024-03-02",
        url("cloud-chips"),
    ]


def test_article_html_stays_text(news_server):
    """Titles holding <script>, <iframe> and <img onerror> reach the page as text only."""
    for page in (
        get_map(news_server, url=url("on-device-models"), edges=",".join(ALL_KINDS)).text,
        get_map(news_server, url=CENTRE, depth=2).text,
        get_map(news_server, q="evil").text,
        get_map(news_server, q="script").text,
    ):
        assert re.findall(r"<script\b[^>]*>", page) == [
            '<script src="/static/map-static.js" defer>'
        ]
        assert not re.search(r"<(img|iframe)\b", page, re.I)
    page = get_map(news_server, url=url("on-device-models")).text
    assert f'<h1 data-key="{url("on-device-models")}">{html.escape(XSS_TITLE)}</h1>' in page
    found = news_server.client.get("/map/search", params={"q": "onerror"}).json()["articles"]
    assert [a["title"] for a in found] == [XSS_IMG]  # JSON; the page's script writes it as text


def test_strict_csp_and_own_static_files(news_server):
    r = get_map(news_server, url=CENTRE)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    loads = re.findall(r'\bsrc="([^"]*)"', r.text) + re.findall(r'<link[^>]*href="([^"]*)"', r.text)
    assert loads and all(u.startswith("/") and not u.startswith("//") for u in loads)
    assert " style=" not in r.text and "<style" not in r.text  # style-src 'self' allows neither
    js = news_server.client.get("/static/map-static.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert news_server.client.get("/static/map.css").headers["content-type"].startswith("text/css")


def test_unknown_url_bad_options_and_landing(news_server):
    r = get_map(news_server, url="https://nowhere.example/<b>x</b>")
    assert r.status_code == 404 and "<h1>Not found</h1>" in r.text
    assert "https://nowhere.example/&lt;b&gt;x&lt;/b&gt;" in r.text
    for bad in ({"depth": "x"}, {"depth": "9"}, {"edges": "FRIENDS"}, {"layout": "RANDOM"}):
        r = get_map(news_server, url=CENTRE, **bad)
        assert r.status_code == 400 and "<h1>Bad request</h1>" in r.text, bad
    # without a URL: the article with the most related links (ties: first URL)
    r = get_map(news_server)
    assert r.status_code == 200 and node_keys(r.text)[0] == CENTRE
    assert "most related links" in r.text
    # provider and topic nodes can be centred too
    r = get_map(news_server, url="topic:energy", edges="TAGGED", depth=1)
    assert set(node_keys(r.text)) == neighbourhood("topic:energy", 1, ("TAGGED",))


def test_search_by_title(news_server):
    page = get_map(news_server, q="CHIP").text
    found = re.findall(r'<li><a href="/map/static\?url=https%3A%2F%2Fnews.example%2F([^"]*)"', page)
    # most related links first, ties by URL
    assert found == ["chips-race", "cloud-chips", "inference-chip", "export-rules"]
    body = news_server.client.get("/map/search", params={"q": "inference", "first": 3}).json()
    assert body["articles"] == [
        {
            "url": url("inference-chip"),
            "title": title("inference-chip"),
            "provider": "ChipWire",
            "publishedAt": "2024-03-03T09:00:00+00:00",
            "map": "/map/static?url=https%3A%2F%2Fnews.example%2Finference-chip",
        }
    ]
    assert news_server.client.get("/map/search", params={"q": "x", "first": 0}).status_code == 400


def test_graphiql_prefilled_with_a_real_query(news_server):
    r = news_server.client.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200
    example = re.search(r"const EXAMPLE_QUERY = (\"(?:[^\"\\]|\\.)*\");", r.text).group(1)
    query = json.loads(example)
    assert f'article(url: "{CENTRE}")' in query and "neighbors(" in query
    assert "</" not in example  # cannot close the inline script
    data = news_server.data(query)
    assert data["article"]["title"] == title("chips-race")
    assert len(data["neighbors"]["nodes"]) == len(neighbourhood(CENTRE, 2))
    # no assets folder: the files the install built, from our own server, never a CDN
    assert "unpkg.com" not in r.text
    assert "/static/vendor/graphiql/graphiql@" in r.text
    for src in re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', r.text):
        assert news_server.client.get(src).status_code == 200, src


def test_interactive_map_frame_and_script(news_server):
    r = news_server.client.get("/map", params={"url": CENTRE})
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert re.findall(r"<script\b[^>]*>", r.text) == ['<script src="/static/vendor/map.js" defer>']
    assert " style=" not in r.text and "<style" not in r.text
    js = news_server.client.get("/static/vendor/map.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "unpkg.com" not in js.text and "cdn." not in js.text
    assert news_server.client.get("/static/vendor/layout-worker.js").status_code == 200
    for part in ('id="graph"', 'id="panel"', 'id="legend"', 'id="export-png"', 'id="from"'):
        assert part in r.text


def test_only_the_entries_are_bundled_as_entries():
    """hatch_build.py bundles each entry of js/package.json's "bundles" with esbuild, the
    modules it imports included. The entries are exactly the top-level js/src/*.js; the
    map page's modules live under js/src/map/ and reach the bundle by import only."""
    js = Path(__file__).resolve().parents[2] / "js"
    bundles = json.loads((js / "package.json").read_text())["graphsvc"]["bundles"]
    assert sorted(bundles) == sorted(f"src/{p.name}" for p in (js / "src").glob("*.js"))
    assert sorted(bundles.values()) == ["layout-worker.js", "map.js"]
    modules = sorted(p.name for p in (js / "src" / "map").glob("*.js"))
    assert modules and not any(f"src/map/{m}" in bundles for m in modules)
    imported = set(re.findall(r'from "\./map/([\w-]+\.js)"', (js / "src" / "map.js").read_text()))
    for m in modules:
        imported |= set(re.findall(r'from "\./([\w-]+\.js)"', (js / "src" / "map" / m).read_text()))
    assert imported == set(modules)  # every module is reached from the entry


def test_pages_say_what_is_missing_without_the_build(tmp_path):
    """An install without npm: /map and /graphql name the problem and the fix; so does
    the start-up log. (The build folder is moved aside for the test and put back.)"""
    from graphsvc.api import graphiql

    vendor = graphiql.VENDOR
    aside = vendor.with_name("vendor-aside-for-test")
    vendor.rename(aside)
    try:
        vendor.mkdir()
        (vendor / "MISSING.json").write_text(
            json.dumps({"built": False, "reason": "npm not found on PATH"})
        )
        folder = write_news(tmp_path / "corpus")
        with serve(folder, tmp=tmp_path, env={"GRAPHSVC_GRAPHIQL_ASSETS": ""}) as s:
            r = s.client.get("/map", params={"url": CENTRE})
            assert r.status_code == 200  # an install told to skip the build: not a 5xx
            assert "npm not found on PATH" in r.text and graphiql.FIX in html.unescape(r.text)
            assert "/map/static?url=" in r.text
            g = s.client.get("/graphql", headers={"accept": "text/html"})
            assert "Loading" not in g.text and "<script" not in g.text
            assert "npm not found on PATH" in g.text and graphiql.FIX in html.unescape(g.text)
            assert s.data("{ stats { articles } }")["stats"]["articles"] > 0
        log = s.log.read_text()
        assert "npm not found on PATH" in log and graphiql.FIX in log
    finally:
        import shutil

        shutil.rmtree(vendor)
        aside.rename(vendor)


def test_graphiql_assets_folder_is_checked_at_start(tmp_path):
    empty = tmp_path / "assets"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "graphsvc", "serve", "--graphiql-assets", str(empty)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "missing" in proc.stderr and "npm install --prefix" in proc.stderr
    printed = subprocess.run(
        [sys.executable, "-m", "graphsvc", "graphiql-assets"], capture_output=True, text=True
    ).stdout.split()
    assert {p.rsplit("@", 1)[0] for p in printed} == {
        "graphiql",
        "react",
        "react-dom",
        "js-cookie",
        "@graphiql/plugin-explorer",
    }
