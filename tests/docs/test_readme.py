"""The README's examples run against the seeds, and its answers must match."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from ..conftest import REPO, serve

BLOCK = re.compile(r"```graphql\n(.*?)```\s*```json\n(.*?)```", re.S)
#: Python examples that talk to a server: ``BASE = "http://127.0.0.1:8000"`` is replaced
#: by the test server's address and the block is run; its asserts are the answers.
PYTHON = re.compile(r"```python\n(.*?)```", re.S)
BASE_LINE = 'BASE = "http://127.0.0.1:8000"'


def examples() -> list[tuple[str, dict]]:
    text = (REPO / "README.md").read_text()
    return [(q, json.loads(a)) for q, a in BLOCK.findall(text)]


def test_readme_has_examples():
    assert len(examples()) >= 5


def test_readme_examples_answer_as_documented(seeds_server):
    for query, expected in examples():
        assert seeds_server.data(query) == expected, query


def test_readme_starts_with_serve_and_test_commands():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert "pip install . && graphsvc serve" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci, "CI must run the README's test command"


def test_schema_file_matches_code():
    out = subprocess.run(
        [sys.executable, "-m", "graphsvc", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert out == (REPO / "schema.graphql").read_text(), "run: graphsvc schema > schema.graphql"


def test_readme_python_examples_run(tmp_path):
    blocks = [b for b in PYTHON.findall((REPO / "README.md").read_text()) if BASE_LINE in b]
    assert blocks, "the README's GraphQL over HTTP example is missing"
    for block in blocks:
        # A fresh server per block: persisted queries and ETags start unknown.
        with serve(None, tmp=tmp_path) as server:
            code = block.replace(BASE_LINE, f"BASE = {server.base!r}")
            exec(compile(code, "README.md example", "exec"), {"__name__": "readme_example"})
