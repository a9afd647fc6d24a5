"""The map page and GraphiQL in headless Chromium (Debian's ``chromium``, driven by Playwright).

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (or
``$GRAPHSVC_CHROMIUM``). Without it, or without Playwright, these tests skip — unless
``GRAPHSVC_REQUIRE_BROWSER=1`` (CI sets it), when they fail instead. The GraphiQL test
needs GraphiQL's files in ``$GRAPHSVC_GRAPHIQL_ASSETS`` (README, "Maps"). Every test
saves screenshots in its temporary folder; with ``GRAPHSVC_UPDATE_DOCS=1`` the map test
also writes ``docs/map.png`` for the README.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from .conftest import REPO, serve
from .news import ARTICLES, BASE, CENTRE, neighbourhood, related_pairs, title, url, write_news

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

CHROMIUM = os.environ.get("GRAPHSVC_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS_SCRIPT = "<script>window.__xss = 1; alert('script')</script>"
XSS_IMG = "<img src=x onerror=\"window.__xss = 2; alert('img')\">"


def need(ok: object, reason: str) -> None:
    """Skip unless ``ok``; with GRAPHSVC_REQUIRE_BROWSER=1, fail instead."""
    if not ok:
        if os.environ.get("GRAPHSVC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (GRAPHSVC_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    need(sync_playwright is not None, "playwright is not installed: pip install -e '.[test]'")
    need(Path(CHROMIUM).is_file(), f"{CHROMIUM} is absent: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """A page that records dialogs, script errors and requests; only loopback is allowed."""

    def __init__(self, browser, tmp: Path, **context_options):
        self.tmp = tmp
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 860}, **context_options
        )
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.context.route("**/*", self._route)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        u = route.request.url
        if urlsplit(u).hostname == "127.0.0.1":
            self.requests.append(u)
            route.continue_()
        else:  # no internet: whatever is not our server fails
            self.blocked.append(u)
            route.abort()

    def shot(self, name: str) -> Path:
        path = self.tmp / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser, tmp_path):
    w = Watch(browser, tmp_path)
    yield w
    w.close()


@pytest.fixture(scope="module")
def news_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("news-browser")
    with serve(write_news(tmp / "corpus"), tmp=tmp) as s:
        yield s


def map_url(server, key: str, **params) -> str:
    query = "".join(f"&{k}={quote(str(v))}" for k, v in params.items())
    return f"{server.base}/map?url={quote(key, safe='')}{query}"


def node(page, key: str):
    return page.locator(f'svg.map g.node[data-key="{key}"]')


def drawn_keys(page) -> set[str]:
    return set(page.locator("svg.map g.node").evaluate_all("ns => ns.map(n => n.dataset.key)"))


def test_map_draws_the_known_neighbourhood(watch, news_server):
    page = watch.page
    page.goto(map_url(news_server, CENTRE))
    expected = neighbourhood(CENTRE, 2)
    assert len(expected) == 10
    expect(page.locator("svg.map g.node")).to_have_count(len(expected))
    assert drawn_keys(page) == expected
    expect(page.locator("svg.map .edge.related")).to_have_count(len(related_pairs(expected)))
    expect(page.locator("svg.map g.node.centre")).to_have_attribute("data-key", CENTRE)
    stubs = [k for k in expected if k.removeprefix(BASE) not in ARTICLES]
    expect(page.locator("svg.map g.node.stub")).to_have_count(len(stubs))
    # sized by degree: the centre (5 links) drawn larger than a stub (1)
    r = page.locator("svg.map g.node circle")
    assert float(node(page, CENTRE).locator("circle").get_attribute("r")) > float(
        node(page, url("shortage-easing")).locator("circle").get_attribute("r")
    )
    assert r.count() == len(expected)
    # hover: title, provider and date; its edges highlighted
    node(page, url("cloud-chips")).locator("circle").hover()
    tip = page.locator("#tip")
    expect(tip).to_be_visible()
    expect(tip).to_have_text(
        re.compile(re.escape(title("cloud-chips")) + r"\s*Cloud Post · 2024-03-02")
    )
    expect(page.locator("svg.map .edge.hl")).to_have_count(3)
    shot = watch.shot("map-hover")
    page.mouse.move(5, 5)
    expect(tip).to_be_hidden()

    # with providers and topics: every kind has its colour
    page.goto(map_url(news_server, CENTRE, depth=1, edges="RELATED,PUBLISHED_BY,TAGGED"))
    expected = neighbourhood(CENTRE, 1, ("RELATED", "PUBLISHED_BY", "TAGGED"))
    expect(page.locator("svg.map g.node")).to_have_count(len(expected))
    assert drawn_keys(page) == expected
    fills = page.locator("svg.map g.node:not(.centre) circle").evaluate_all(
        "cs => cs.map(c => c.closest('g').dataset.kind + ' ' + getComputedStyle(c).fill)"
    )
    colours = {f.split(" ", 1)[0]: set() for f in fills}
    for f in fills:
        kind, fill = f.split(" ", 1)
        colours[kind].add(fill)
    assert set(colours) == {"ARTICLE", "PROVIDER", "TOPIC"}
    assert len(set.union(*colours.values())) >= 4  # article, stub, provider, topic
    watch.shot("map-all-kinds")
    assert watch.errors == [] and watch.dialogs == [] and watch.blocked == []
    if os.environ.get("GRAPHSVC_UPDATE_DOCS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "map.png")


def test_click_recentres(watch, news_server):
    page = watch.page
    page.goto(map_url(news_server, CENTRE, depth=2))
    target = url("cloud-chips")
    node(page, target).locator("circle").click()
    page.wait_for_url(re.compile(r"url=https%3A%2F%2Fnews\.example%2Fcloud-chips"))
    expect(page.locator("h1")).to_have_text(title("cloud-chips"))
    expect(page.locator("svg.map g.node.centre")).to_have_attribute("data-key", target)
    expect(page.locator("svg.map g.node")).to_have_count(len(neighbourhood(target, 2)))
    assert drawn_keys(page) == neighbourhood(target, 2)
    watch.shot("recentred")
    # and on to a stub two hops from the first centre
    node(page, url("custom-silicon-costs")).locator("circle").click()
    expect(page.locator("svg.map g.node.centre")).to_have_attribute(
        "data-key", url("custom-silicon-costs")
    )
    watch.shot("recentred-stub")
    assert watch.errors == [] and watch.blocked == []


def test_search_box(watch, news_server):
    page = watch.page
    page.goto(f"{news_server.base}/map")  # the landing: the most linked article
    expect(page.locator("svg.map g.node.centre")).to_have_attribute("data-key", CENTRE)
    box = page.get_by_role("searchbox", name="Find an article by title")
    box.press_sequentially("inference", delay=20)
    suggestion = page.locator("form.search .suggestions a")
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_contain_text(title("inference-chip"))
    watch.shot("suggestions")
    suggestion.click()
    page.wait_for_url(re.compile(r"url=https%3A%2F%2Fnews\.example%2Finference-chip$"))
    expect(page.locator("h1")).to_have_text(title("inference-chip"))
    # Enter submits the form: a list of results
    box = page.get_by_role("searchbox", name="Find an article by title")
    box.fill("chip")
    box.press("Enter")
    expect(page.locator("ol.results li")).to_have_count(5)  # four articles, one stub
    watch.shot("results")
    assert watch.errors == [] and watch.blocked == []


def test_unknown_url_page(watch, news_server):
    r = watch.page.goto(map_url(news_server, "https://nowhere.example/missing"))
    assert r.status == 404
    expect(watch.page.locator("h1")).to_have_text("Not found")
    expect(watch.page.locator("main")).to_contain_text("https://nowhere.example/missing")
    watch.shot("not-found")


def test_injected_html_stays_text(browser, tmp_path):
    """Titles holding <script> and <img onerror> show as text, even with the page's CSP
    switched off (so escaping alone must hold), on the map, in hover and in suggestions."""
    folder = write_news(tmp_path / "corpus", {"chips-race": XSS_SCRIPT, "shortage-easing": XSS_IMG})
    w = Watch(browser, tmp_path, bypass_csp=True)
    try:
        with serve(folder, tmp=tmp_path) as server:
            page = w.page
            page.goto(map_url(server, CENTRE, edges="RELATED,PUBLISHED_BY,TAGGED", depth=1))
            expect(page.locator("h1")).to_have_text(XSS_SCRIPT)
            expect(page.get_by_text(XSS_SCRIPT, exact=True)).to_be_visible()
            node(page, url("shortage-easing")).locator("circle").hover()
            expect(page.locator("#tip .first")).to_have_text(XSS_IMG)
            w.shot("injected-map")
            page.get_by_role("searchbox").press_sequentially("window", delay=20)
            expect(page.locator("form.search .suggestions a")).to_have_count(2)
            expect(page.locator("form.search .suggestions")).to_contain_text(XSS_IMG)
            w.shot("injected-suggestions")
            page.goto(f"{server.base}/map?q=window")
            expect(page.locator("ol.results li")).to_have_count(2)
            expect(page.get_by_text(XSS_IMG, exact=True)).to_be_visible()
            w.shot("injected-results")
            # nothing ran, and the markup made no elements
            assert page.evaluate("window.__xss") is None
            assert w.dialogs == []
            assert page.locator("img, iframe").count() == 0
            assert page.locator("script").count() == 1  # /static/map.js
    finally:
        w.close()


def test_graphiql_offline(watch, tmp_path):
    """GraphiQL from our own server only: loads, runs the pre-filled query, shows the result."""
    assets = os.environ.get("GRAPHSVC_GRAPHIQL_ASSETS")
    need(
        assets and Path(assets).is_dir(),
        "GRAPHSVC_GRAPHIQL_ASSETS names no folder of GraphiQL's files (README, Maps)",
    )
    folder = write_news(tmp_path / "corpus")
    with serve(folder, "--graphiql-assets", assets, tmp=tmp_path) as server:
        page = watch.page
        page.goto(f"{server.base}/graphql")
        editor = page.locator(".graphiql-query-editor")
        expect(editor).to_contain_text("neighbors(url:", timeout=20_000)
        expect(editor).to_contain_text(CENTRE[:30])
        watch.shot("graphiql-loaded")
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text(f'"title": "{title("chips-race")}"', timeout=20_000)
        expect(result).to_contain_text('"truncated": false')
        watch.shot("graphiql-result")
    assert watch.blocked == [], "GraphiQL asked for something outside our server"
    assert any("/graphiql-assets/graphiql@" in u for u in watch.requests)
    assert watch.errors == [] and watch.dialogs == []
