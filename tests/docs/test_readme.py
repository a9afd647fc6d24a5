"""The README is a front door: short, the two commands first, five starting queries.

Its examples run with every page's in ``tests/docs/test_docs_examples.py``; its links into
docs/ are checked by ``tests/docs/test_docs_site.py``."""

from __future__ import annotations

import re
import subprocess
import sys

from ..conftest import REPO

README = REPO / "README.md"
MAX_LINES = 300
BLOCK = re.compile(r"```graphql\n(.*?)```\s*```json\n(.*?)```", re.S)


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; the reference goes in docs/"


def test_readme_starts_with_serve_and_test_commands():
    text = README.read_text()
    blocks = list(re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M))
    first, second = blocks[0], blocks[1]
    assert first[1] == second[1] == "sh"
    assert "pip install . && graphsvc serve" in first[2]
    assert "pytest" in second[2]
    # Only prose before them, and both within the first screen.
    assert text.count("\n", 0, second.end()) < 25
    ci = (REPO / ".ci" / "run").read_text()
    assert second[2].strip() in ci, "CI must run the README's test command"
    assert "node" not in text[: second.end()].lower(), "the first command needs no Node.js"


def test_readme_has_five_starting_queries():
    assert len(BLOCK.findall(README.read_text())) >= 5


def test_schema_file_matches_code():
    out = subprocess.run(
        [sys.executable, "-m", "graphsvc", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert out == (REPO / "schema.graphql").read_text(), "run: graphsvc schema > schema.graphql"
