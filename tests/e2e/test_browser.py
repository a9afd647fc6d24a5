"""The map page and GraphiQL in headless Chromium (Debian's ``chromium``, driven by Playwright).

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (or
``$GRAPHSVC_CHROMIUM``). Without it, or without Playwright, these tests skip — unless
``GRAPHSVC_REQUIRE_BROWSER=1`` (CI sets it), when they fail instead. The GraphiQL test
needs GraphiQL's files in ``$GRAPHSVC_GRAPHIQL_ASSETS`` (README, "Maps"). Every test
saves screenshots in its temporary folder; with ``GRAPHSVC_UPDATE_DOCS=1`` the map test
also writes ``docs/map.png`` for the README.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from ..conftest import REPO, need_browser, serve
from ..news import (
    ARTICLES,
    BASE,
    CENTRE,
    expected_graph,
    neighbourhood,
    related_pairs,
    title,
    url,
    write_news,
)

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


@pytest.fixture(scope="module")
def playwright():
    """One Playwright per module (a second sync instance cannot start beside the first)."""
    need_browser(
        sync_playwright is not None, "playwright is not installed: pip install -e '.[test]'"
    )
    need_browser(Path(CHROMIUM).is_file(), f"{CHROMIUM} is absent: apt-get install chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
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


def map_url(server, key: str, page: str = "/map/static", **params) -> str:
    query = "".join(f"&{k}={quote(str(v))}" for k, v in params.items())
    return f"{server.base}{page}?url={quote(key, safe='')}{query}"


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
    assert shot.is_file()
    assert watch.errors == [] and watch.dialogs == [] and watch.blocked == []


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
    page.goto(f"{news_server.base}/map/static")  # the landing: the most linked article
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
            page.goto(f"{server.base}/map/static?q=window")
            expect(page.locator("ol.results li")).to_have_count(2)
            expect(page.get_by_text(XSS_IMG, exact=True)).to_be_visible()
            w.shot("injected-results")
            # nothing ran, and the markup made no elements
            assert page.evaluate("window.__xss") is None
            assert w.dialogs == []
            assert page.locator("img, iframe").count() == 0
            assert page.locator("script").count() == 1  # /static/map-static.js
    finally:
        w.close()


def test_graphiql_offline(watch, tmp_path):
    """GraphiQL from our own server only: loads, runs the pre-filled query, shows the result."""
    assets = os.environ.get("GRAPHSVC_GRAPHIQL_ASSETS")
    need_browser(
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


# -- the interactive map (/map: sigma.js over graphology, built at install time) -----------

ALL_KINDS = ("RELATED", "PUBLISHED_BY", "TAGGED")
WEBGL_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader"]


@pytest.fixture(scope="module")
def gl_browser(playwright):
    """Chromium with WebGL on SwiftShader (software), as headless Chromium has no GPU here."""
    args = [a for a in ARGS if a != "--disable-gpu"] + WEBGL_ARGS
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield b
    b.close()


@pytest.fixture
def gl(gl_browser, tmp_path):
    w = Watch(gl_browser, tmp_path, accept_downloads=True)
    yield w
    w.close()


def open_map(w: Watch, server, key: str | None = None, **params):
    page = w.page
    if key is None:
        page.goto(f"{server.base}/map")
    else:
        page.goto(map_url(server, key, page="/map", **params))
    wait_js(page, "window.graphsvcMap !== undefined")
    page.evaluate("window.graphsvcMap.ready")
    page.evaluate("window.graphsvcMap.idle()")
    return page


def wait_js(page, expr: str, timeout: float = 20) -> None:
    """Poll ``expr`` until true. (Playwright's wait_for_function evaluates a string in the
    page, which the page's CSP forbids; evaluate() does not.)"""
    end = time.monotonic() + timeout
    while not page.evaluate(expr):
        assert time.monotonic() < end, f"timed out waiting for {expr}"
        page.wait_for_timeout(50)


def gm(page, expr: str):
    return page.evaluate(f"window.graphsvcMap.{expr}")


def hover_layer_drawn(page) -> bool:
    """Whether sigma's hover layer (a 2D canvas: hovered and selected nodes' labels) holds
    any pixel, shown or not."""
    return page.evaluate(
        """() => { const c = window.graphsvcMap.page.renderer.getCanvases().hovers;
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"""
    )


def no_trouble(w: Watch) -> None:
    assert w.errors == [], w.errors
    assert w.dialogs == [] and w.blocked == []


def boxes_overlap(a, b) -> bool:
    return a["x1"] < b["x2"] and a["x2"] > b["x1"] and a["y1"] < b["y2"] and a["y2"] > b["y1"]


def test_interactive_map_draws_hover_highlights_and_labels(gl, news_server):
    page = open_map(gl, news_server, CENTRE, edges=",".join(ALL_KINDS))
    expected = neighbourhood(CENTRE, 2, ALL_KINDS)
    assert set(gm(page, "visibleNodes()")) == expected
    drawn_related = {(s, t) for s, t, k in gm(page, "visibleEdges()") if k == "RELATED"}
    assert drawn_related == related_pairs(expected)
    # layers with nothing on them are out of the page (js/src/map/renderer.js syncLayers)
    assert gm(page, "layers()") == ["edges", "labels", "mouse", "nodes"]
    # hover: the node and its neighbours on the map stay lit, the rest dims
    target = url("cloud-chips")
    xy = gm(page, f"viewport({target!r})")
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + xy["x"], box["y"] + xy["y"])
    wait_js(page, "window.graphsvcMap.highlighted() !== null")
    lit = set(gm(page, "highlighted()"))
    g = expected_graph(ALL_KINDS)
    assert lit == ({target} | set(g[target])) & expected
    assert {"hovers", "hoverNodes"} <= set(gm(page, "layers()"))  # the hovered node's label
    assert hover_layer_drawn(page)
    gl.shot("interactive-hover")
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    wait_js(page, "window.graphsvcMap.highlighted() === null")
    assert "hovers" not in gm(page, "layers()") and not hover_layer_drawn(page)
    # labels: many drawn, none over another, most important first
    labels = gm(page, "labels()")
    assert len(labels) >= 8
    assert not any(boxes_overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :])
    # zoomed out, fewer fit, and still none overlap
    page.evaluate("window.graphsvcMap.page.renderer.getCamera().setState({ratio: 4})")
    page.wait_for_timeout(300)
    small = gm(page, "labels()")
    assert len(small) < len(labels)
    assert not any(boxes_overlap(a, b) for i, a in enumerate(small) for b in small[i + 1 :])
    # the side panel: the selected article's fields as text
    page.evaluate(f"window.graphsvcMap.select({target!r})")
    wait_js(page, "window.graphsvcMap.layers().includes('hovers')")  # selected: drawn lit
    panel = page.locator("#panel")
    expect(panel.locator("h2")).to_have_text(title("cloud-chips"))
    expect(panel).to_contain_text("Cloud Post · 2024-03-02")
    expect(panel.locator("a.source")).to_have_attribute("href", target)
    expect(page.locator("#legend")).to_be_visible()
    no_trouble(gl)


def test_expand_keeps_every_node_in_place(gl, news_server):
    page = open_map(gl, news_server, CENTRE, depth=1, edges=",".join(ALL_KINDS))
    before_nodes = set(gm(page, "visibleNodes()"))
    assert before_nodes == neighbourhood(CENTRE, 1, ALL_KINDS)
    width = page.locator("#graph").bounding_box()["width"]
    before = {k: gm(page, f"viewport({k!r})") for k in before_nodes}
    graph_before = gm(page, "positions()")
    # expand a topic through the side panel's button (a hub: issue 12 item 5)
    hub = "topic:" + "ai chips"
    assert hub in before_nodes
    page.evaluate(f"window.graphsvcMap.select({hub!r})")
    page.locator("#expand").click()
    wait_js(page, f"window.graphsvcMap.state().expanded.includes({hub!r})")
    page.evaluate("window.graphsvcMap.idle()")
    after_nodes = set(gm(page, "visibleNodes()"))
    assert after_nodes == before_nodes | neighbourhood(hub, 1, ALL_KINDS)
    assert after_nodes > before_nodes
    for k in before_nodes:
        a = gm(page, f"viewport({k!r})")
        moved = ((a["x"] - before[k]["x"]) ** 2 + (a["y"] - before[k]["y"]) ** 2) ** 0.5
        assert moved <= 0.01 * width, (k, moved)
    graph_after = gm(page, "positions()")
    assert all(graph_after[k] == graph_before[k] for k in before_nodes)
    gl.shot("expanded")
    no_trouble(gl)


def api_articles(server, flt: str) -> set[str]:
    data = server.data(
        f"{{ articles(filter: {flt}, first: 1000) {{ edges {{ node {{ url }} }} }} }}"
    )
    return {e["node"]["url"] for e in data["articles"]["edges"]}


def drawn_articles(page) -> set[str]:
    return {k for k in gm(page, "visibleNodes()") if k.startswith("https://")}


def test_filters_draw_what_the_api_returns(gl, news_server):
    page = open_map(gl, news_server, CENTRE, edges=",".join(ALL_KINDS))
    loaded = drawn_articles(page)
    # a date range (the page's "to" day is inclusive; the API's publishedBefore is not)
    page.locator("#from").fill("2024-03-02")
    page.locator("#to").fill("2024-03-04")
    page.locator("#to").dispatch_event("change")
    want = api_articles(
        news_server,
        '{publishedAfter: "2024-03-02T00:00:00Z", publishedBefore: "2024-03-05T00:00:00Z"}',
    )
    assert drawn_articles(page) == (loaded & want) | {CENTRE}
    assert 0 < len(loaded & want) < len(loaded)
    state = gm(page, "state()")
    assert state["from"] == "2024-03-02" and state["to"] == "2024-03-04"
    page.locator("#clear-filters").click()
    assert drawn_articles(page) == loaded
    # a provider
    page.locator("#providers").select_option("cloudpost.example")
    want = api_articles(news_server, '{provider: "cloudpost.example"}')
    assert drawn_articles(page) == (loaded & want) | {CENTRE}
    page.locator("#clear-filters").click()
    # a topic
    page.locator("#topics").select_option(label="Energy")
    want = api_articles(news_server, '{topic: "energy"}')
    assert drawn_articles(page) == (loaded & want) | {CENTRE}
    # an edge kind off: no tagged edges drawn and no topic nodes
    page.locator("#clear-filters").click()
    page.locator("input[name=edges][value=TAGGED]").uncheck()
    wait_js(page, "!window.graphsvcMap.state().edges.includes('TAGGED')")
    page.evaluate("window.graphsvcMap.idle()")
    assert set(gm(page, "visibleNodes()")) == neighbourhood(CENTRE, 2, ("RELATED", "PUBLISHED_BY"))
    assert all(k != "TAGGED" for _, _, k in gm(page, "visibleEdges()"))
    no_trouble(gl)


def test_a_url_reopens_the_same_view(gl, gl_browser, tmp_path, news_server):
    page = open_map(gl, news_server, CENTRE, depth=1, edges=",".join(ALL_KINDS))
    page.evaluate("window.graphsvcMap.expand('provider:chipwire.example')")
    page.evaluate("window.graphsvcMap.idle()")
    page.locator("#size").select_option("degree")
    page.locator("#from").fill("2024-03-01")
    page.locator("#from").dispatch_event("change")
    page.evaluate(f"window.graphsvcMap.select({url('cloud-chips')!r})")
    page.evaluate(
        "window.graphsvcMap.page.renderer.getCamera().setState({x: 0.4, y: 0.55, ratio: 0.7})"
    )
    # The URL follows the camera 200 ms after it settles (longer on a loaded machine).
    wait_js(page, "new URLSearchParams(location.search).get('cam') === '0.4,0.55,0.7'")
    link = page.url
    assert "exp=provider" in link and "sel=" in link and "cam=" in link
    camera = "window.graphsvcMap.page.renderer.getCamera().getState()"
    view = {
        "camera": page.evaluate(camera),
        "state": {**gm(page, "state()"), "camera": None},
        "nodes": gm(page, "visibleNodes()"),
        "positions": gm(page, "positions()"),
    }
    other = Watch(gl_browser, tmp_path / "second")
    (tmp_path / "second").mkdir()
    try:
        p2 = other.page
        p2.goto(link)
        wait_js(p2, "window.graphsvcMap !== undefined")
        p2.evaluate("window.graphsvcMap.ready")
        p2.evaluate("window.graphsvcMap.idle()")
        assert {**gm(p2, "state()"), "camera": None} == view["state"]
        cam = p2.evaluate(camera)
        assert all(abs(cam[k] - view["camera"][k]) < 1e-3 for k in ("x", "y", "ratio"))
        assert gm(p2, "visibleNodes()") == view["nodes"]
        pos = gm(p2, "positions()")
        assert pos.keys() == view["positions"].keys()
        for k, (x, y) in view["positions"].items():
            assert abs(pos[k][0] - x) < 1e-9 and abs(pos[k][1] - y) < 1e-9, k
        expect(p2.locator("#panel h2")).to_have_text(title("cloud-chips"))
        assert p2.locator("#size").input_value() == "degree"
        assert other.errors == [] and other.blocked == []
    finally:
        other.close()
    no_trouble(gl)


def test_export_png_and_svg(gl, news_server, tmp_path):
    page = open_map(gl, news_server, CENTRE, edges=",".join(ALL_KINDS))
    with page.expect_download() as d:
        page.locator("#export-png").click()
    png = tmp_path / "map.png"
    d.value.save_as(png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with page.expect_download() as d:
        page.locator("#export-svg").click()
    svg = tmp_path / "map.svg"
    d.value.save_as(svg)
    from lxml import etree

    root = etree.parse(str(svg)).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    shapes = root.findall(".//s:g/s:circle", ns) + root.findall(".//s:g/s:rect", ns)
    assert {s.get("data-key") for s in shapes} == set(gm(page, "visibleNodes()"))
    assert len(root.findall(".//s:text", ns)) == len(gm(page, "labels()"))
    no_trouble(gl)


def synthetic(n: int, m: int, seed: int = 1) -> dict:
    """A random graph of ``n`` articles and ``m`` related links, in the subgraph's shape."""
    import random

    rnd = random.Random(seed)
    nodes = [
        {
            "key": f"https://big.example/{i}",
            "kind": "ARTICLE",
            "label": f"Article {i}",
            "x": None,
            "y": None,
            "distance": 1,
            "article": {
                "title": f"Article {i}",
                "cluster": i % 12,
                "pagerank": rnd.random(),
                "degree": 0,
                "isStub": False,
                "topics": [],
            },
        }
        for i in range(n)
    ]
    edges, seen = [], set()
    while len(edges) < m:
        a, b = rnd.randrange(n), rnd.randrange(n)
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            edges.append({"source": nodes[a]["key"], "target": nodes[b]["key"], "kind": "RELATED"})
    return {"nodes": nodes, "edges": edges, "truncated": False, "analyticsVersion": 0}


IDLE_FPS_SCRIPT = """async () => {
  const frames = [];
  await new Promise((resolve) => {
    const t0 = performance.now();
    function step(t) {
      frames.push(t);
      if (t - t0 < 2000) requestAnimationFrame(step); else resolve();
    }
    requestAnimationFrame(step);
  });
  return { frames: frames.length, seconds: (frames[frames.length - 1] - frames[0]) / 1000 };
}"""

PAN_SCRIPT = """async (drag) => {
  // Pans the map for 3 s, a step every animation frame, and counts the frames drawn.
  // drag: as a user does, a mouse drag on the map's empty corner (sigma knows the map is
  // moving: at this size it hides the edges until the drag ends); else the camera is
  // moved from code, so every frame draws every edge.
  const r = window.graphsvcMap.page.renderer;
  const cam = r.getCamera();
  const target = r.getMouseCaptor().container;
  const box = target.getBoundingClientRect();
  let x = box.left + 4;
  const y = box.top + 4;
  const mouse = (type, on) => on.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, button: 0, bubbles: true }));
  if (drag) mouse("mousedown", target);
  const frames = [];
  let midway = null;
  const t0 = performance.now();
  await new Promise((resolve) => {
    function step(t) {
      frames.push(t);
      if (drag) {
        x += 2;
        mouse("mousemove", target);  // over the map, as a real pointer: sigma picks hovers too
      } else {
        const s = cam.getState();
        cam.setState({ ...s, x: s.x + 0.002 });
      }
      if (frames.length === 3) midway = window.graphsvcMap.layers();  // 3: the least asserted below
      if (t - t0 < 3000) requestAnimationFrame(step); else resolve();
    }
    requestAnimationFrame(step);
  });
  if (drag) mouse("mouseup", document);
  return { frames: frames.length, seconds: (frames[frames.length - 1] - frames[0]) / 1000, midway };
}"""

LONELIEST_NODE_SCRIPT = """() => {
  // The node in view farthest from any other (so the pointer over it can only mean it).
  const r = window.graphsvcMap.page.renderer;
  const { width, height } = r.getDimensions();
  const pts = window.graphsvcMap.page.graph.mapNodes((key) => ({ key, ...r.framedGraphToViewport(r.getNodeDisplayData(key)) }))
    .filter((p) => p.x > 20 && p.y > 20 && p.x < width - 20 && p.y < height - 20);
  let best = null, far = -1;
  for (const p of pts) {
    let near = Infinity;
    for (const q of pts) if (q !== p) near = Math.min(near, Math.hypot(p.x - q.x, p.y - q.y));
    if (near > far) { far = near; best = p; }
  }
  return best;
}"""

#: WebGL on Mesa's llvmpipe (ANGLE over EGL) instead of SwiftShader: both draw on the CPU;
#: llvmpipe is 3-6x faster here (bench/RESULTS.md). Used when it comes up, else SwiftShader.
LLVMPIPE_ARGS = ["--use-gl=angle", "--use-angle=gl-egl", "--ignore-gpu-blocklist", "--enable-gpu"]
GL_RENDERER = """() => { const gl = document.createElement('canvas').getContext('webgl');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : String(!!gl); }"""


def fps(r) -> float:
    return (r["frames"] - 1) / r["seconds"]


@pytest.mark.alone
def test_big_map_renders_and_pans(playwright, gl_browser, news_server, tmp_path):
    """5,000 nodes and 20,000 edges, laid out by ForceAtlas2 in a worker, panned twice for
    3 s by a mouse drag, as a user pans (the first right after the layout, both reported),
    and for 3 s more from code (every edge drawn every frame); and a page with nothing to
    draw, to tell the renderer's cost from the machine's.

    The goal is 30 frames per second panning. Headless Chromium here draws WebGL on the
    CPU: on Mesa's llvmpipe where it starts (else SwiftShader). At this size the map
    hides edges while it moves (sigma's hideEdgesOnMove, above MOVING_EDGES_MAX edges in
    js/src/map/renderer.js), draws its nodes smaller (CROWD), takes empty layers out of the page
    and skips the picking pass while moving; the test checks each of these. Every pan
    starts from the same view. The figures are printed and kept in build/fps.json (read by
    bench/map_fps.py); the goal is recorded in bench/RESULTS.md,
    not asserted (see below)."""
    fast = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[a for a in ARGS if a != "--disable-gpu"] + LLVMPIPE_ARGS
    )
    try:
        probe = Watch(fast, tmp_path)  # on about:blank
        renderer = probe.page.evaluate(GL_RENDERER)
        probe.close()
        w = Watch(fast if "llvmpipe" in renderer else gl_browser, tmp_path)
        if "llvmpipe" not in renderer:
            renderer = "SwiftShader (llvmpipe did not start: " + renderer + ")"
        try:
            page = open_map(w, news_server, CENTRE)
            assert gm(page, "page.renderer.getSetting('hideEdgesOnMove')") is False  # small map
            sub = synthetic(5000, 20000)
            t0 = page.evaluate("performance.now()")
            page.evaluate("(sub) => window.graphsvcMap.show(sub)", sub)
            page.evaluate("window.graphsvcMap.idle()")
            layout_ms = page.evaluate("performance.now()") - t0
            assert len(gm(page, "visibleNodes()")) == 5000
            assert len(gm(page, "visibleEdges()")) == 20000
            assert gm(page, "page.renderer.getSetting('hideEdgesOnMove')") is True
            # a crowded map draws its nodes smaller (js/src/map/style.js CROWD): at most 0.4 of
            # full size (3 + 14 px), sized by PageRank as before
            sizes = page.evaluate("() => window.graphsvcMap.page.graph.mapNodes((k, a) => a.size)")
            assert min(sizes) > 0 and max(sizes) <= 0.4 * 17 + 1e-9
            assert max(sizes) > 2 * min(sizes)
            cam0 = gm(page, "page.renderer.getCamera().getState()")
            first = page.evaluate(PAN_SCRIPT, True)  # the first pan after the layout
            page.wait_for_timeout(500)  # the inertia after the drag, then edges come back
            assert gm(page, "page.renderer.getCamera().getState()")["x"] < cam0["x"]  # it moved
            assert not gm(page, "page.renderer.getMouseCaptor().isMoving")
            # Each pan starts from the same view: a pan carries 360 px of the map out of
            # sight, and later pans from there would draw less and run faster.
            back = "(c) => window.graphsvcMap.page.renderer.getCamera().setState(c)"
            page.evaluate(back, cam0)
            page.wait_for_timeout(300)
            dragged = page.evaluate(PAN_SCRIPT, True)  # a user's next pan of the same map
            page.wait_for_timeout(500)
            assert not gm(page, "page.renderer.getMouseCaptor().isMoving")
            # while dragged, the edges' layer is out of the page (sigma draws no edges
            # then); when the map stops it is back; edge labels are never drawn here
            assert first["midway"] == dragged["midway"] == ["labels", "mouse", "nodes"]
            assert gm(page, "layers()") == ["edges", "labels", "mouse", "nodes"]
            # at rest, picking works again (its image is not drawn while the map moves,
            # js/src/map/renderer.js pickingAtRest) and finds the node now under the pointer
            lone = page.evaluate(LONELIEST_NODE_SCRIPT)
            box = page.locator("#graph").bounding_box()
            page.mouse.move(box["x"] + lone["x"], box["y"] + lone["y"])
            wait_js(page, f"window.graphsvcMap.page.hovered === {lone['key']!r}")
            page.mouse.move(box["x"] + 2, box["y"] + 2)
            wait_js(page, "window.graphsvcMap.page.hovered === null")
            page.evaluate(back, cam0)
            page.wait_for_timeout(300)
            coded = page.evaluate(PAN_SCRIPT, False)
            assert coded["midway"] == ["edges", "labels", "mouse", "nodes"]
            w.shot("big-map")
            no_trouble(w)
            blank = Watch(w.context.browser, tmp_path)
            try:
                blank.page.goto(f"{news_server.base}/static/favicon.svg")
                idle = fps(blank.page.evaluate(IDLE_FPS_SCRIPT))
            finally:
                blank.close()
        finally:
            w.close()
    finally:
        fast.close()
    line = (
        f"5k/20k on {renderer}: layout {layout_ms:.0f} ms, panning by mouse (edges hidden "
        f"while moving) {fps(first):.1f} fps the first time after the layout and "
        f"{fps(dragged):.1f} fps the next, {fps(coded):.1f} fps panning with every edge "
        f"drawn, {idle:.1f} fps idle page; load {os.getloadavg()[0]:.1f}"
    )
    print(line)
    (REPO / "build").mkdir(exist_ok=True)
    figures = {"renderer": renderer, "layout_ms": layout_ms, "first": fps(first)}
    figures |= {"next": fps(dragged), "every_edge": fps(coded), "idle": idle}
    (REPO / "build" / "fps.json").write_text(json.dumps(figures | {"line": line}))
    # The 30 fps goal of issue 13 is a goal of speed on a shared 2-core machine with
    # software WebGL: it belongs to the benchmark record (bench/RESULTS.md, "The map's
    # frame rate"), so here the map must draw every node and edge and keep drawing frames.
    assert min(first["frames"], dragged["frames"], coded["frames"]) >= 3, line


def test_graphiql_runs_offline_from_the_built_files(watch, tmp_path):
    """No --graphiql-assets: GraphiQL loads from the files the install built, runs a query."""
    folder = write_news(tmp_path / "corpus")
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_GRAPHIQL_ASSETS": ""}) as server:
        page = watch.page
        page.goto(f"{server.base}/graphql")
        editor = page.locator(".graphiql-query-editor")
        expect(editor).to_contain_text("neighbors(url:", timeout=20_000)
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text(f'"title": "{title("chips-race")}"', timeout=20_000)
    assert watch.blocked == []
    assert any("/static/vendor/graphiql/graphiql@" in u for u in watch.requests)
    assert watch.errors == [] and watch.dialogs == []


def test_graphiql_offline_from_a_built_wheel(watch, tmp_path):
    """`pip wheel .` runs the build hook: the wheel carries GraphiQL's files and the map's
    bundle, and a server run from the installed wheel (not this checkout) serves GraphiQL
    that runs a query with every request outside 127.0.0.1 blocked."""
    import subprocess
    import sys
    import zipfile

    need_browser(shutil_which("npm"), "npm is absent: apt-get install nodejs npm")
    wheels = tmp_path / "wheels"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("graphsvc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "graphsvc/api/static/vendor/map.js" in names
    assert "graphsvc/api/static/vendor/layout-worker.js" in names
    assert any(n.startswith("graphsvc/api/static/vendor/graphiql/graphiql@") for n in names)
    site = tmp_path / "site"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    env = {"PYTHONPATH": str(site), "GRAPHSVC_GRAPHIQL_ASSETS": ""}
    where = subprocess.run(
        [sys.executable, "-c", "import graphsvc; print(graphsvc.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    ).stdout.strip()
    assert where.startswith(str(site)), where
    folder = write_news(tmp_path / "corpus")
    with serve(folder, tmp=tmp_path, env=env) as server:
        page = watch.page
        page.goto(f"{server.base}/graphql")
        expect(page.locator(".graphiql-query-editor")).to_contain_text(
            "neighbors(url:", timeout=20_000
        )
        page.locator(".graphiql-execute-button").click()
        expect(page.locator(".graphiql-response")).to_contain_text(
            f'"title": "{title("chips-race")}"', timeout=20_000
        )
    assert watch.blocked == [] and watch.errors == []


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def test_shared_corpus_map_at_depth_two_with_every_edge_kind(gl, tmp_path):
    """The README's picture: a real corpus (everyday-ai) at depth 2 with all edge kinds,
    labels readable (none over another). GRAPHSVC_UPDATE_DOCS=1 writes docs/map.png."""
    from ..conftest import SHARED_CORPUS

    corpus = SHARED_CORPUS / "everyday-ai"
    need_browser(corpus.is_dir(), f"{corpus} is absent")
    with serve(corpus, tmp=tmp_path, env={"GRAPHSVC_GRAPHIQL_ASSETS": ""}) as server:
        top = server.data(
            "{ articles(first: 1, orderBy: RELATED_COUNT_DESC) { edges { node { url } } } }"
        )
        key = top["articles"]["edges"][0]["node"]["url"]
        page = open_map(gl, server, key, depth=2, edges=",".join(ALL_KINDS))
        drawn = gm(page, "visibleNodes()")
        kinds = {k for _, _, k in gm(page, "visibleEdges()")}
        want = server.data(
            """query($u: [String!]!) { subgraph(urls: $u, depth: 2, limit: 300,
                 edgeKinds: [RELATED, PUBLISHED_BY, TAGGED]) { nodes { key } } }""",
            {"u": [key]},
        )["subgraph"]["nodes"]
        assert set(drawn) == {n["key"] for n in want}
        assert kinds == set(ALL_KINDS) and len(drawn) > 30
        page.evaluate(f"window.graphsvcMap.select({key!r})")
        page.wait_for_timeout(500)
        labels = gm(page, "labels()")
        assert len(labels) >= 15
        assert not any(boxes_overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :])
        # every label and the selected node's card inside the map (one that would run
        # past the right edge goes left of its node)
        width = page.locator("#graph").bounding_box()["width"]
        cards = gm(page, "hoverLabels()")
        assert [c["key"] for c in cards] == [key]
        assert all(b["x1"] >= 0 and b["x2"] <= width for b in labels + cards), (width, labels)
        shot = gl.tmp / "shared-depth2.png"
        page.screenshot(path=shot)
        no_trouble(gl)
    if os.environ.get("GRAPHSVC_UPDATE_DOCS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        (REPO / "docs" / "map.png").write_bytes(shot.read_bytes())


def test_search_box_centres_and_drag_moves_one_node(gl, news_server):
    page = open_map(gl, news_server, CENTRE, depth=1)
    # search: the API's ranked search, words in any order, the last one a prefix (the
    # old substring filter found nothing for this); a suggestion centres the map on it
    page.locator("#q").press_sequentially("chip infer", delay=20)
    hit = page.locator("#suggestions button")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text(title("inference-chip"))
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("chips", delay=20)
    # ranked: the two articles with "chips" in their title before those with it in
    # their topics only
    expect(hit.nth(0)).to_contain_text(re.compile(r"AI chips"))
    expect(hit.nth(1)).to_contain_text(re.compile(r"AI chips"))
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("chip infer", delay=20)
    expect(hit).to_have_count(1)
    hit.click()
    wait_js(page, f"window.graphsvcMap.state().urls[0] === {url('inference-chip')!r}")
    page.evaluate("window.graphsvcMap.idle()")
    assert set(gm(page, "visibleNodes()")) == neighbourhood(url("inference-chip"), 1)
    expect(page.locator("#panel h2")).to_have_text(title("inference-chip"))
    # drag: the node follows the mouse, the others stay
    page.wait_for_timeout(400)  # the centring animation
    key = url("on-device-models")
    before = gm(page, "positions()")
    xy = gm(page, f"viewport({key!r})")
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + xy["x"], box["y"] + xy["y"])
    page.mouse.down()
    page.mouse.move(box["x"] + xy["x"] + 60, box["y"] + xy["y"] + 40, steps=8)
    page.mouse.up()
    after = gm(page, "positions()")
    assert after[key] != before[key]
    assert all(after[k] == before[k] for k in before if k != key)
    moved = gm(page, f"viewport({key!r})")
    assert abs(moved["x"] - xy["x"] - 60) < 3 and abs(moved["y"] - xy["y"] - 40) < 3
    no_trouble(gl)
