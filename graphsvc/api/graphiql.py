"""GraphiQL at ``/graphql``: Strawberry's page, pre-filled with a query over the loaded
corpus, its assets served by our own server, never from a CDN.

Strawberry's page names its scripts and styles on unpkg.com. The install builds them into
the package (``hatch_build.py`` runs npm; ``static/vendor/graphiql/<package>@<version>/``),
and the page loads them from ``/static/vendor/graphiql/``. ``graphsvc serve
--graphiql-assets DIR`` (or its variable, see ``docs/configuration.md``) serves them from DIR
instead, at ``/graphiql-assets/<package>@<version>/<file>``; DIR is an npm prefix (or its
``node_modules``) holding exactly the packages and versions the page names, as
``npm_packages()`` lists them. Either way the files are checked against the page's
integrity hashes when the app starts. When neither has them (an install that skipped the
build on purpose: a failed build fails ``pip install``), the page says what is missing
and the command that fixes it instead of a blank "Loading...", with status 200: the URL
is right and the GraphQL endpoint behind it works; only the browser pages are absent.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..graph import LinkGraph
from ..graph import drawing as gm
from . import graphql_core

CDN = "https://unpkg.com/"
PREFIX = "/graphiql-assets/"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
BUILT_PREFIX = "/static/vendor/graphiql/"
_ASSET = re.compile(
    r'(?:src|href)="https://unpkg\.com/((@?[^@/"]+(?:/[^@/"]+)?)@([^/"]+)/([^"]+))"'
    r'(?:\s+integrity="([^"]*)")?'
)
_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.S)


@dataclass(frozen=True, slots=True)
class Asset:
    """One file the page loads: ``path`` is ``<package>@<version>/<file>``."""

    path: str
    package: str
    version: str
    file: str
    integrity: str | None


@functools.cache
def template() -> str:
    """Strawberry's GraphiQL page as it ships."""
    return graphql_core.graphiql_html()


@functools.cache
def assets() -> tuple[Asset, ...]:
    """The files Strawberry's page loads from unpkg.com, in page order."""
    return tuple(Asset(*m.groups()) for m in _ASSET.finditer(template()))


def npm_packages() -> list[str]:
    """``package@version`` for each npm package the page loads from.

    >>> [p for p in npm_packages() if p.startswith(("graphiql@", "react@"))]  # doctest: +ELLIPSIS
    ['react@...', 'graphiql@...']
    """
    return list(dict.fromkeys(f"{a.package}@{a.version}" for a in assets()))


def npm_command(folder: str | os.PathLike = "DIR") -> str:
    return (
        f"npm install --prefix {folder} --no-save --no-audit --no-fund --ignore-scripts "
        + " ".join(npm_packages())
    )


class AssetsError(Exception):
    """The assets folder lacks a file the page needs, or holds another version of it."""


def _sri_ok(path: Path, integrity: str) -> bool:
    """Whether ``path`` matches one of the Subresource Integrity hashes in ``integrity``."""
    data = path.read_bytes()
    for token in integrity.split():
        algo, _, digest = token.partition("-")
        if (
            algo in ("sha256", "sha384", "sha512")
            and digest == base64.b64encode(hashlib.new(algo, data).digest()).decode()
        ):
            return True
    return False


class LocalAssets:
    """GraphiQL's files from a local folder; raises :class:`AssetsError` if any is wrong."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        root = self.folder / "node_modules"
        if not root.is_dir():
            root = self.folder
        self.files: dict[str, Path] = {}
        problems = []
        for a in assets():
            path = root / a.package / a.file
            if not path.is_file():
                problems.append(f"missing {path} ({a.package}@{a.version})")
            elif a.integrity and not _sri_ok(path, a.integrity):
                problems.append(f"{path} is not the file of {a.package}@{a.version}")
            else:
                self.files[a.path] = path
        if problems:
            raise AssetsError(
                f"GraphiQL assets folder {self.folder}: "
                + "; ".join(problems)
                + f". Get them with: {npm_command(self.folder)}"
            )

    def endpoint(self, request: Request) -> Response:
        path = self.files.get(request.path_params["path"])
        if path is None:
            return PlainTextResponse("not a GraphiQL asset", status_code=404)
        # The version is in the URL, so the file never changes under it.
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    def routes(self) -> list[Route]:
        return [Route(PREFIX + "{path:path}", self.endpoint)]


def build_problem() -> str | None:
    """Why the install's browser code is absent (None when it was built)."""
    missing = VENDOR / "MISSING.json"
    if missing.is_file():
        try:
            return json.loads(missing.read_text()).get("reason") or "the build failed"
        except ValueError:
            return "the build failed"
    if not (VENDOR / "BUILD.json").is_file():
        return "the install did not run graphsvc's build hook (hatch_build.py)"
    return None


FIX = "pip install ."


def fix_hint() -> str:
    """The one command that builds the browser code, for the pages and the log."""
    return (
        "reinstall graphsvc from its source folder on a machine that can reach the npm "
        "registry (the build brings its own Node.js; only Python is needed), without the "
        f"setting that skips the build: {FIX}"
    )


@functools.cache
def built_problems() -> tuple[str, ...]:
    """What is wrong with the built GraphiQL files (empty when they are all there)."""
    reason = build_problem()
    if reason:
        return (f"GraphiQL's JavaScript was not built when graphsvc was installed: {reason}",)
    problems = []
    for a in assets():
        path = VENDOR / "graphiql" / a.path
        if not path.is_file():
            problems.append(f"missing {path}")
        elif a.integrity and not _sri_ok(path, a.integrity):
            problems.append(f"{path} is not the file of {a.package}@{a.version}")
    return tuple(problems)


def missing_page(problems: tuple[str, ...]) -> str:
    """A plain page saying why GraphiQL cannot load and how to fix it (no script)."""
    from html import escape

    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not installed · graphsvc</title>
<link rel="stylesheet" href="/static/map.css"></head>
<body><main class="message"><h1>GraphiQL's files are missing</h1>
<ul class="problems">{items}</ul>
<p>To fix it, {escape(fix_hint().rsplit(": ", 1)[0])}:</p>
<pre><code>{escape(FIX)}</code></pre>
<p>Or point the server at a folder of GraphiQL's npm packages:
<code>graphsvc serve --graphiql-assets DIR</code> (<code>graphsvc graphiql-assets DIR</code>
prints the npm command that fills it).</p>
<p>The GraphQL endpoint itself works: POST queries to <code>/graphql</code>.</p>
</main></body></html>
"""


def example_query(lg: LinkGraph | None) -> str:
    """A query over the loaded corpus: the neighbourhood of its most linked article."""
    key = gm.featured_article(lg) if lg is not None else None
    if key is None:
        return "# graphsvc: no articles are loaded yet.\n{\n  stats { articles loadErrors }\n}\n"
    url = json.dumps(key)  # a JSON string is a GraphQL string
    return f"""# graphsvc: the article with the most related links in the loaded corpus,
# and the map around it (drawn at /map?{urlencode({"url": key})}).
# Run with Ctrl-Enter or the ▶ button; the Docs and Explorer panes list every field.
{{
  article(url: {url}) {{
    title
    publishedAt
    provider {{ name }}
    related {{ title url }}
  }}
  neighbors(url: {url}, depth: 2) {{
    truncated
    nodes {{ kind label distance }}
    edges {{ source target kind }}
  }}
}}
"""


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal safe inside an inline ``<script>``."""
    out = json.dumps(text)  # ASCII only, so U+2028/2029 are escaped too
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(lg: LinkGraph | None, local: LocalAssets | None) -> str:
    """Strawberry's GraphiQL page with our example query, its assets from ``local`` if
    given, else from the built files; a page saying what is missing when neither has them.
    """
    html = template()
    if local is not None:
        html = html.replace(CDN, PREFIX)
    elif built_problems():
        return missing_page(built_problems())
    else:
        html = html.replace(CDN, BUILT_PREFIX)
    example = "const EXAMPLE_QUERY = " + _js_string(example_query(lg)) + ";"
    return _EXAMPLE.sub(lambda _: example, html, count=1)
