"""The home page at ``/`` (issue 23, item 2): what is served, counts, the load report,
links that resolve, three example queries that open in GraphiQL; escaped, behind the
read token. Real servers; the browser part in headless Chromium (as test_browser)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from graphsvc.api import graphiql

from ..conftest import Server, need_browser, serve
from ..corpus import write
from ..news import CENTRE, write_news
from .test_browser import CHROMIUM, XSS_IMG, XSS_SCRIPT, Watch

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

READER = "home-reader-token"
READ = {"Authorization": f"Bearer {READER}"}
COUNTS = "{ articles { totalCount } stats { documents stubs providers topics loadErrors } }"
BROKEN = "---\ntitle: [unclosed <b>bold</b>\n---\n"  # a file that does not load


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[Server]:
    """The news corpus, its most linked article titled with a script, one broken file
    (a load error), behind a read token."""
    tmp = tmp_path_factory.mktemp("home")
    folder = write_news(tmp / "corpus", {"chips-race": XSS_SCRIPT, "cloud-chips": XSS_IMG})
    write(folder, "<b>broken</b>.md", BROKEN)
    env = {"GRAPHSVC_READ_TOKEN": READER}
    with serve(folder, "--no-watch", "--read-token", tmp=tmp, env=env) as s:
        yield s


def counts(server: Server, headers: dict | None = None) -> dict[str, int]:
    body = server.gql(COUNTS, headers=headers or {})
    assert "errors" not in body, body
    d = body["data"]
    return {"articles": d["articles"]["totalCount"], **d["stats"]}


def shown(page_html: str) -> dict[str, int]:
    """The counts the page shows, by row name."""
    rows = re.findall(r'<tr data-count="([^"]+)">.*?<td class="n">(\d+)</td>', page_html)
    return {name: int(n) for name, n in rows}


def links(page_html: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a [^>]*href="([^"]+)"', page_html)]


def example_queries(page_html: str) -> list[str]:
    out = []
    for href in links(page_html):
        parts = urlsplit(href)
        if parts.path == "/graphql" and parts.query.startswith("q="):
            # GraphiQL decodes with decodeURIComponent: no '+' for spaces
            assert "+" not in parts.query
            out.append(unquote(parts.query[2:]))
    return out


# -- without a browser ----------------------------------------------------------------------
def test_home_page_over_http(seeds_server):
    s = seeds_server
    r = s.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page  # server-rendered, no script
    want = counts(s)
    got = shown(page)
    assert got["articles"] == want["articles"]
    for name in ("documents", "stubs", "providers", "topics"):
        assert got[name] == want[name], name
    assert got["load errors"] == want["loadErrors"]
    assert "Corpus folder" in page and "seeds" in page
    readyz = s.client.get("/readyz").json()
    assert f"<dt>Graph version</dt><dd>{readyz['version']}</dd>" in page
    hrefs = links(page)
    for needed in ("/graphql", "/schema.graphql", "/readyz", "/metrics", "/healthz"):
        assert needed in hrefs, needed
    for needed in ("/export/articles.csv", "/export/articles.jsonl"):
        assert needed in hrefs, needed
    featured = s.data("{ articles(orderBy: RELATED_COUNT_DESC, first: 1) { nodes { url } } }")
    key = featured["articles"]["nodes"][0]["url"]
    maps = [h for h in hrefs if h.startswith("/map?")]
    assert [parse_qs(urlsplit(h).query)["url"] for h in maps] == [[key]]
    # every link resolves
    for href in hrefs:
        r = s.client.get(href, headers={"accept": "text/html"})
        assert r.status_code < 400, (href, r.status_code)
    # three example queries, each one that runs without an error
    queries = example_queries(page)
    assert len(queries) == 3
    for q in queries:
        body = s.gql(q)
        assert "errors" not in body and body["data"], (q, body)
    # HEAD answers like GET, without a body
    head = s.client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/html")


def test_hostile_titles_and_load_messages_are_escaped_and_the_token_is_needed(hostile):
    s = hostile
    for path in ("/", "/map"):  # the same as the map: 401 without the token
        assert s.client.get(path).status_code == 401, path
        assert s.client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert s.client.get(path, headers=READ).status_code == 200, path
    assert s.client.head("/").status_code == 401
    assert s.client.head("/", headers=READ).status_code == 200
    page = s.client.get("/", headers=READ).text
    assert XSS_SCRIPT not in page and XSS_IMG not in page
    assert "<b>" not in page
    assert html.escape(XSS_SCRIPT) in page  # the featured article's title, as text
    assert "&lt;b&gt;broken&lt;/b&gt;.md" in page  # the broken file's path, as text
    want = counts(s, READ)
    assert want["loadErrors"] == 1
    assert shown(page)["load errors"] == 1 and shown(page)["articles"] == want["articles"]
    assert len(example_queries(page)) == 3
    for q in example_queries(page):
        assert CENTRE in q or "loadReport" in q


def test_a_corpus_without_articles(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with serve(folder, "--no-watch", tmp=tmp_path) as s:
        r = s.client.get("/")
        assert r.status_code == 200
        assert shown(r.text)["articles"] == 0
        assert len(example_queries(r.text)) == 3
        for q in example_queries(r.text):
            assert "errors" not in s.gql(q), q
        assert [h for h in links(r.text) if h.startswith("/map")] == ["/map", "/map", "/map/static"]


# -- in headless Chromium --------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    need_browser(
        sync_playwright is not None, "playwright is not installed: pip install -e '.[test]'"
    )
    need_browser(Path(CHROMIUM).is_file(), f"{CHROMIUM} is absent: apt-get install chromium")
    from .test_browser import ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_home_page_in_a_browser(browser, hostile, tmp_path):
    s = hostile
    need_browser(
        not graphiql.built_problems(), f"GraphiQL is not built: {graphiql.built_problems()}"
    )
    # without the token: refused, as /map is
    w = Watch(browser, tmp_path)
    try:
        assert w.page.goto(s.base + "/").status == 401
        assert w.page.goto(s.base + "/map").status == 401
    finally:
        w.close()
    # with it (CSP off, so that escaping alone must hold)
    w = Watch(browser, tmp_path, extra_http_headers=READ, bypass_csp=True)
    try:
        page = w.page
        assert page.goto(s.base + "/").status == 200
        want = counts(s, READ)
        expect(page.locator('tr[data-count="articles"] td.n')).to_have_text(str(want["articles"]))
        expect(page.locator('tr[data-count="load errors"] td.n')).to_have_text("1")
        expect(page.get_by_text(XSS_SCRIPT, exact=False).first).to_be_visible()
        expect(page.locator("ul.issues")).to_contain_text("<b>broken</b>.md")
        assert page.evaluate("window.__xss") is None and w.dialogs == []
        assert page.locator("script, img, b").count() == 0
        w.shot("home")
        # every link resolves, with the browser's headers
        hrefs = page.locator("main a").evaluate_all("as => as.map(a => a.href)")
        assert len(hrefs) >= 12
        for href in dict.fromkeys(hrefs):
            r = w.context.request.get(href, headers={"accept": "text/html"})
            assert r.status < 400, (href, r.status)
        # an example opens GraphiQL with its query, which runs
        page.locator("ol.examples li.example a.open").first.click()
        page.wait_for_url(re.compile(r"/graphql\?q="))
        editor = page.locator(".graphiql-query-editor")
        expect(editor).to_contain_text("articles { totalCount }", timeout=20_000)
        expect(editor).to_contain_text("loadReport")
        w.shot("home-example-in-graphiql")
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text(f'"totalCount": {want["articles"]}', timeout=20_000)
        # and the map link opens the map on the featured article
        page.goto(s.base + "/")
        page.locator("main a.map").click()
        page.wait_for_url(re.compile(r"/map\?url="))
        assert CENTRE in unquote(page.url)
    finally:
        w.close()
    assert w.blocked == [], w.blocked
    assert not [e for e in w.errors if "favicon" not in e], w.errors


def test_seeds_title_shown(seeds_server):
    """The map link names the featured article's title."""
    page = seeds_server.client.get("/").text
    featured = seeds_server.data(
        "{ articles(orderBy: RELATED_COUNT_DESC, first: 1) { nodes { title } } }"
    )["articles"]["nodes"][0]["title"]
    assert f"<cite>{html.escape(featured)}</cite>" in page


def test_a_store_is_named_without_its_password(pg_url, tmp_path):
    """Served from PostgreSQL: the page names the store by its redacted address."""
    from ..conftest import SEEDS
    from .test_fleet import graphsvc

    r = graphsvc("import", str(SEEDS), "--store", pg_url)
    assert r.returncode == 0, r.stderr
    # The test cluster's password is in its PGPASSFILE: put it in the URL served.
    import os

    password = Path(os.environ["PGPASSFILE"]).read_text().split()[0].rsplit(":", 1)[1]
    parts = urlsplit(pg_url)
    url = parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}")
    with serve(None, "--store", url.geturl(), tmp=tmp_path) as s:
        page = s.client.get("/").text
        assert "<dt>PostgreSQL store</dt>" in page and "postgresql://" in page
        assert f"{parts.username}@{parts.hostname}" in page
        assert password not in page
        assert "changes are applied as they come" in page
        assert shown(page)["articles"] == counts(s)["articles"]


def test_while_loading_the_page_and_the_downloads_say_so(tmp_path):
    """The first load held (a test hook): / is a 503 page pointing at /readyz, and a
    download a 503 NOT_READY JSON error, both with Retry-After; then both answer."""
    folder = write_news(tmp_path / "corpus")
    gate = tmp_path / "gate"
    hook = f"hold_loads_until({str(gate)!r})"
    with serve(folder, "--no-watch", tmp=tmp_path, ready="/healthz", hooks=hook) as s:
        r = s.client.get("/")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "The graph is loading." in r.text and 'href="/readyz"' in r.text
        for path in ("/export/node-link", "/export/articles.csv"):
            r = s.client.get(path)
            assert r.status_code == 503 and r.headers["retry-after"] == "1", path
            assert r.json()["errors"][0]["extensions"]["code"] == "NOT_READY", path
        gate.touch()
        for _ in range(400):  # bounded: 20 s
            if s.client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert s.client.get("/").status_code == 200
        assert s.client.get("/export/node-link").status_code == 200
