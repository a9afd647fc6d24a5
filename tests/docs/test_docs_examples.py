"""Every example in the README and in docs/ runs, and its answers must match.

A fenced block is an example when its language is one of :data:`EXAMPLE_LANGS`:

- ``graphql`` followed by a ``json`` block: asked of the seed articles, the answer's
  ``data`` must equal the JSON (without one: it must answer without errors);
- ``python`` holding ``BASE = "http://127.0.0.1:8000"``: run against a fresh seeds server
  of its own (the line names that server); its asserts are the answers;
- any other (``sh``, ``js``, ...) says how it runs in the HTML comment just above it:
  ``<!-- example: verbatim -->`` runs the text as it stands with bash in an empty folder
  (the README's write example: issue 23 found it failing verbatim),
  ``<!-- example: server -->`` runs it with ``localhost:8000`` pointed at a seeds server,
  ``<!-- example: article file -->`` must pass ``graphsvc validate`` without a problem,
  ``<!-- example: not run (why) -->`` is counted, and a ``graphsvc`` command in it must
  name only options its ``--help`` lists.

A block with none of these fails the test, and :data:`NOT_RUN` is the exact number of
``not run`` blocks, so a skipped example is always a decision someone wrote down.
The README's first two blocks are its two commands (``tests/docs/test_readme.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from graphsvc import cli

from ..conftest import REPO, clean_env, serve

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_LANGS = {"graphql", "python", "sh", "bash", "shell", "console", "js", "javascript", "yaml"}
#: The blocks marked ``not run``: change it when you add or remove one, on purpose.
NOT_RUN = 7
BASE_LINE = 'BASE = "http://127.0.0.1:8000"'
FENCE = re.compile(
    r"(?:<!-- example: (?P<marker>[^\n]*?) -->\n)?^```(?P<lang>[A-Za-z]*)\n(?P<body>.*?)^```\n",
    re.S | re.M,
)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    marker: str | None
    answer: str | None = None  # the json block right after a graphql one

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.lang})"


@cache
def blocks() -> tuple[Block, ...]:
    found = []
    for path in PAGES:
        text = path.read_text()
        matches = list(FENCE.finditer(text))
        for i, m in enumerate(matches):
            block = Block(
                path.relative_to(REPO).as_posix(),
                text.count("\n", 0, m.start("body")),
                m["lang"],
                m["body"],
                m["marker"],
            )
            after = matches[i + 1] if i + 1 < len(matches) else None
            if (
                block.lang == "graphql"
                and after is not None
                and after["lang"] == "json"
                and not text[m.end() : after.start()].strip()
            ):
                block.answer = after["body"]
            found.append(block)
    return tuple(found)


def two_commands(b: Block) -> bool:
    readme = [x for x in blocks() if x.page == "README.md" and x.lang == "sh"]
    return b in readme[:2]


def examples(kind: str) -> list[Block]:
    out = []
    for b in blocks():
        if b.lang not in EXAMPLE_LANGS or two_commands(b):
            continue
        if b.lang == "graphql" and b.marker is None:
            block_kind = "graphql"
        elif b.lang == "python" and b.marker is None and BASE_LINE in b.body:
            block_kind = "python"
        elif b.marker is not None and b.marker.startswith("not run"):
            block_kind = "not run"
        else:
            block_kind = b.marker or "unmarked"
        if block_kind == kind:
            out.append(b)
    return out


def test_every_example_runs_or_says_why_not():
    unmarked = [str(b) for b in examples("unmarked")]
    assert not unmarked, f"say how these run (<!-- example: ... -->): {unmarked}"
    kinds = {"graphql", "python", "verbatim", "server", "article file", "not run"}
    known = sum(len(examples(k)) for k in kinds)
    total = sum(1 for b in blocks() if b.lang in EXAMPLE_LANGS and not two_commands(b))
    assert known == total, "a marker this test does not know"
    not_run = examples("not run")
    assert all(re.fullmatch(r"not run \(.+\)", b.marker or "") for b in not_run), (
        "a `not run` marker says why in parentheses"
    )
    assert len(not_run) == NOT_RUN, [str(b) for b in not_run]
    assert len(examples("graphql")) >= 15
    assert examples("verbatim") and examples("server") and examples("python")
    assert examples("article file")


@pytest.mark.parametrize("page", [p.relative_to(REPO).as_posix() for p in PAGES])
def test_graphql_examples_answer_as_documented(page, seeds_server):
    for b in examples("graphql"):
        if b.page != page:
            continue
        if b.answer is None:
            body = seeds_server.gql(b.body)
            assert "errors" not in body, (str(b), body["errors"])
        else:
            assert seeds_server.data(b.body) == json.loads(b.answer), str(b)


def test_python_examples_run(tmp_path):
    for b in examples("python"):
        # A fresh server per block: persisted queries and ETags start unknown.
        with serve(None, tmp=tmp_path) as server:
            code = b.body.replace(BASE_LINE, f"BASE = {server.base!r}")
            exec(compile(code, str(b), "exec"), {"__name__": "docs_example"})


def test_article_file_examples_load_cleanly(tmp_path):
    for i, b in enumerate(examples("article file")):
        folder = tmp_path / f"corpus-{i}"
        folder.mkdir()
        (folder / "article.md").write_text(b.body)
        run = subprocess.run(
            [sys.executable, "-m", "graphsvc", "validate", str(folder), "--no-cache"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, (str(b), run.stdout, run.stderr)
        assert "1 articles with files" in run.stdout and " 0 warnings" in run.stdout, run.stdout


def bash_env(tmp: Path) -> dict[str, str]:
    """The caller's environment as a user's shell has it after the README's install:
    this venv's commands first, no ``GRAPHSVC_*`` but a private snapshot folder."""
    env = clean_env(GRAPHSVC_CACHE_DIR=str(tmp / "cache"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_server_examples_run(seeds_server, tmp_path):
    for b in examples("server"):
        script = b.body.replace("localhost:8000", seeds_server.base)
        assert script != b.body, f"{b}: a server example talks to localhost:8000"
        run = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env=bash_env(tmp_path),
            cwd=tmp_path,
        )
        assert run.returncode == 0, (str(b), run.stderr)
        assert run.stdout.strip(), f"{b}: no output"
        assert "error" not in run.stdout[:300].lower(), (str(b), run.stdout[:300])


def isolated_network() -> list[str] | None:
    """A command prefix that runs in a network namespace of its own (so the examples'
    fixed port 8000 never meets another server on this machine), when the system allows
    one; else ``None``."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return None
    prefix = [
        "unshare",
        "--map-root-user",
        "--net",
        "sh",
        "-c",
        'ip link set lo up && exec "$@"',
        "-",
    ]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    return prefix if probe.returncode == 0 else None


def run_verbatim(text: str, folder: Path) -> subprocess.CompletedProcess:
    script = folder / "example.sh"
    script.write_text(text)
    prefix = isolated_network()
    if prefix is None:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", 8000))
            except OSError:
                pytest.fail("port 8000 is taken and no network namespace can be made here")
    proc = subprocess.Popen(
        [*(prefix or []), "bash", "-e", str(script)],
        cwd=folder,
        env=bash_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        # Whatever the example left running (a server it started in the background).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_verbatim_examples_run(tmp_path):
    for i, b in enumerate(examples("verbatim")):
        folder = tmp_path / f"example-{i}"
        folder.mkdir()
        run = run_verbatim(b.body, folder)
        assert run.returncode == 0, (str(b), run.stdout, run.stderr[-3000:])
        if "upsertArticle" in b.body:  # the write example
            answer = json.loads(run.stdout.splitlines()[0])
            assert answer["data"]["upsertArticle"]["created"] is True, answer
            (written,) = answer["data"]["upsertArticle"]["paths"]
            assert (folder / "my-corpus" / written).is_file()
            assert written in run.stdout.splitlines()[1:], run.stdout  # `ls my-corpus`


def test_readme_write_example_is_the_docs_one():
    """The write example is the same text in the README and in the docs."""
    verbatim = examples("verbatim")
    readme = [b.body for b in verbatim if b.page == "README.md"]
    docs = [b.body for b in verbatim if b.page == "docs/live-data-and-writes.md"]
    assert readme and readme == docs


@cache
def help_text(*command: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "graphsvc", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, (command, run.stderr)
    return run.stdout


def graphsvc_commands(text: str) -> list[list[str]]:
    """Each ``graphsvc ...`` command of a shell block, as its words."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Za-z_]+=\S*", words[0]):
            words = words[1:]  # VAR=value before the command
        if words[:1] == ["graphsvc"]:
            commands.append(words[1:])
    return commands


def test_unrun_commands_name_real_options():
    checked = 0
    for b in examples("not run"):
        for words in graphsvc_commands(b.body):
            sub = []
            for w in words:
                if w.startswith("-") or "/" in w or "." in w:
                    break
                sub.append(w)
            usage = help_text(*sub)
            for flag in (w.split("=")[0] for w in words if w.startswith("--")):
                assert re.search(rf"{re.escape(flag)}\b", usage), (
                    f"{b}: graphsvc {sub} has no {flag}"
                )
                checked += 1
    assert checked >= 10


#: Options of other tools the pages mention (ruff, pg_restore, npm, mkdocs).
OTHER_TOOLS_OPTIONS = {"--check", "--clean", "--single-transaction", "--prefix", "--strict"}
#: Variables the test suite or the build reads (not graphsvc: they are not settings).
TEST_VARIABLES = {
    "GRAPHSVC_FUZZ_EXAMPLES",
    "GRAPHSVC_FUZZ_SEED",
    "GRAPHSVC_GRAPHQL_HTTP_AUDIT",
    "GRAPHSVC_REQUIRE_BROWSER",
    "GRAPHSVC_UPDATE_DOCS",
    "GRAPHSVC_SKIP_JS_BUILD",  # read by hatch_build.py at install time, not a setting
}


def all_options(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every option string of a parser and of its sub-commands' parsers."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_options(sub)


def test_named_options_and_variables_exist():
    """Every ``--option`` the pages name in code is one graphsvc's commands take, and
    every ``GRAPHSVC_*`` variable is in the generated configuration table."""
    known = set(all_options(cli.parser()))
    table = (REPO / "docs" / "configuration.md").read_text()
    text = "\n".join(p.read_text() for p in PAGES if p.name != "configuration.md")
    code = " ".join(re.findall(r"`([^`\n]+)`", text))
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", code)) - OTHER_TOOLS_OPTIONS
    assert len(options) > 30
    unknown = sorted(options - known)
    assert not unknown, f"options no graphsvc command takes: {unknown}"
    variables = set(re.findall(r"GRAPHSVC_[A-Z][A-Z_]*[A-Z]", text)) - TEST_VARIABLES
    missing = sorted(v for v in variables if f"`{v}`" not in table)
    assert not missing, f"variables not in docs/configuration.md: {missing}"
