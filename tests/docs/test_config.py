"""The settings table (graphsvc/config.py): the one reader of the environment, the
source of every command's options and of docs/configuration.md; and the test harness
isolated from the caller's GRAPHSVC_* variables."""

from __future__ import annotations

import ast
import dataclasses
import pickle

from graphsvc import config
from graphsvc.cli import parser
from graphsvc.config import SETTINGS, Config, Settings

from ..conftest import REPO, clean_env, serve

PACKAGE = REPO / "graphsvc"


def test_docs_page_is_generated_from_the_table():
    """docs/configuration.md is `graphsvc config-docs`: regenerate it when this fails."""
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == config.markdown()
    for s in SETTINGS:
        assert f"| `{s.name}` |" in page and s.help in page


def test_every_field_is_a_row_of_the_table():
    api = {s.name for s in SETTINGS if s.target == "api"}
    assert api == {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    serve_rows = {s.name for s in SETTINGS if s.target in ("serve", "factory")}
    assert serve_rows == {f.name for f in dataclasses.fields(Config)} - {"settings"}
    for s in SETTINGS:
        d = Settings() if s.target == "api" else Config()
        assert getattr(d, s.name) == s.default, s.name
        assert s.help and (s.flag or s.env), s.name


def test_help_of_each_command_lists_its_flags_with_help_and_default():
    p = parser()
    commands = {a.dest: a for a in p._actions if a.dest == "command"}["command"].choices
    for s in SETTINGS:
        if s.flag is None:
            continue
        for name in s.commands:
            top, _, sub = name.partition(" ")
            cmd = commands[top]
            if sub:
                cmd = next(a for a in cmd._actions if a.dest == "store_command").choices[sub]
            options = {o: a for a in cmd._actions for o in a.option_strings}
            assert s.flag in options, (name, s.flag)
            assert options[s.flag].help == config.help_text(s)
            default = config._default_text(s)
            assert default in options[s.flag].help


def test_flag_wins_over_variable_wins_over_default():
    env = {"GRAPHSVC_MAX_DEPTH": "7", "GRAPHSVC_STORE_WRITE_TIMEOUT": "2", "GRAPHSVC_PLANS": "0"}
    args = parser().parse_args(["serve", "--max-depth", "3", "--no-watch"])
    c = Config.from_args(args, env)
    assert (c.settings.max_depth, c.store_write_timeout, c.settings.plans) == (3, 2.0, False)
    assert (c.watch, c.cache, c.settings.max_tokens) == (False, True, 1000)
    assert Config.from_args(parser().parse_args(["serve"]), {}).settings.max_depth == 10
    # The configuration reaches --workers processes whole.
    assert pickle.loads(pickle.dumps(c)) == c


def _reads_environment(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv", "putenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            found.append(node.lineno)
    return found


def test_config_is_the_only_reader_of_the_environment():
    """No other module names GRAPHSVC_ or touches os.environ (reads or writes)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "config.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert "GRAPHSVC_" not in source, path
        assert not _reads_environment(ast.parse(source)), path


def test_the_harness_drops_the_callers_variables(tmp_path, monkeypatch):
    """A caller's GRAPHSVC_* (another snapshot folder, a limit) reaches no test server."""
    elsewhere = tmp_path / "callers-cache"
    monkeypatch.setenv("GRAPHSVC_CACHE_DIR", str(elsewhere))
    monkeypatch.setenv("GRAPHSVC_MAX_DEPTH", "1")
    assert not any(k.startswith("GRAPHSVC_") for k in clean_env())
    assert clean_env(GRAPHSVC_TOKEN="t")["GRAPHSVC_TOKEN"] == "t"
    corpus = REPO / "seeds"
    with serve(corpus, "--no-watch", tmp=tmp_path) as s:
        body = s.gql("{ stats { articles } a: stats { articles } }")
        assert "errors" not in body, body  # depth 2 > the caller's 1
    assert not elsewhere.exists()
    assert list((tmp_path / "cache").glob("*.snapshot"))


def test_the_test_process_keeps_snapshots_to_itself(tmp_path):
    """In the test process too, a corpus's snapshot goes to the session's folder."""
    from graphsvc.startup import load_graph

    loaded = load_graph(REPO / "seeds")
    assert loaded.snapshot is not None
    assert "snapshots" in loaded.snapshot.parent.name, loaded.snapshot
