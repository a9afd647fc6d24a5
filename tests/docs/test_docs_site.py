"""docs/ builds as a site with ``mkdocs build --strict`` (every warning fails: a link or
an anchor that leads nowhere, a page left out of the nav), as CI builds it, and the
README's links into docs/ lead somewhere."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..conftest import REPO

LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_docs_build_strictly(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, warnings
    for page in (REPO / "docs").glob("*.md"):
        assert (tmp_path / "site" / page.stem / "index.html").is_file() or page.stem == "index"


def headings(page: Path) -> set[str]:
    """The anchors GitHub and mkdocs give a page's headings (the same for ours)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    slugs = set()
    for title in re.findall(r"^#+ (.*)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_readme_links_resolve():
    links = LINK.findall((REPO / "README.md").read_text())
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        path, _, anchor = link.partition("#")
        target = REPO / path
        assert target.exists(), f"README links to {link}, which does not exist"
        if anchor:
            assert anchor in headings(target), f"README links to {link}: no such heading"


def test_named_files_exist():
    """Paths of tests, benchmarks and code the pages name exist (a moved test file
    leaves no stale pointer); configuration.md's from the text of graphsvc/config.py."""
    pages = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    named = set()
    for page in pages:
        named |= set(re.findall(r"\b((?:tests|bench|graphsvc|js)/[\w./-]*\w)", page.read_text()))
    assert len(named) > 20
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"the pages name files that do not exist: {missing}"
