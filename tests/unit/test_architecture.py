"""The shape of the code, measured from its syntax trees (issue 24's "done means"):
class, function and module sizes, McCabe complexity, where networkx's private tables
and the ``GRAPHSVC_`` environment are named, and import cycles (function-level imports
included). Each bound is the issue's; a test fails when a change crosses it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "graphsvc"

MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 100
MAX_COMPLEXITY = 25
MAX_MODULE_LINES = 800
#: Modules that may name networkx's ``_succ``/``_pred``/``_node``/``_adj`` tables.
MAX_NX_PRIVATE_MODULES = 2
#: Modules that may name a ``GRAPHSVC_`` variable (the settings table).
MAX_ENV_MODULES = 2

_BRANCHES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.IfExp,
    ast.ExceptHandler,
    ast.Assert,
    ast.comprehension,
    ast.match_case,
)


def complexity(fn: ast.AST) -> int:
    """McCabe's number of ``fn``: 1, plus one per branch, loop, handler, comprehension
    and case, plus one per extra operand of ``and``/``or``.

    >>> complexity(ast.parse("def f(a):\\n    if a and a:\\n        return 1"))
    3
    """
    n = 1
    for node in ast.walk(fn):
        if isinstance(node, _BRANCHES):
            n += 1
        elif isinstance(node, ast.BoolOp):
            n += len(node.values) - 1
    return n


def modules() -> Iterator[tuple[str, Path, ast.Module, str]]:
    """(dotted name, path, tree, text) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        text = path.read_text()
        yield ".".join(parts), path, ast.parse(text), text


def _defs(tree: ast.Module, kinds) -> Iterator[ast.AST]:
    return (n for n in ast.walk(tree) if isinstance(n, kinds))


def _size(node) -> int:
    return node.end_lineno - node.lineno + 1


def _imports(name: str, is_package: bool, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports, anywhere in it (functions too). ``from P
    import m`` of a submodule ``m`` depends on ``P.m``, not on ``P``'s ``__init__``."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            subs = {f"{target}.{a.name}" for a in node.names} & known
            if len(subs) < len(node.names):
                out.add(target)
            out |= subs
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out & known - {name}


def import_cycles() -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    found = list(modules())
    known = {name for name, *_ in found}
    graph = {
        name: _imports(name, path.name == "__init__.py", tree, known)
        for name, path, tree, _ in found
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_class_function_or_module_over_its_bound():
    over = []
    for _, path, tree, text in modules():
        where = path.relative_to(PACKAGE.parent)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            over.append(f"{where}: {len(text.splitlines())} lines")
        for c in _defs(tree, ast.ClassDef):
            if _size(c) > MAX_CLASS_LINES:
                over.append(f"{where}:{c.name}: class of {_size(c)} lines")
        for f in _defs(tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if _size(f) > MAX_FUNCTION_LINES:
                over.append(f"{where}:{f.name}: function of {_size(f)} lines")
            if complexity(f) > MAX_COMPLEXITY:
                over.append(f"{where}:{f.name}: complexity {complexity(f)}")
    assert not over, "\n".join(over)


def _naming(pattern: str) -> dict[str, int]:
    return {
        str(path.relative_to(PACKAGE.parent)): n
        for _, path, _, text in modules()
        if (n := len(re.findall(pattern, text)))
    }


def test_networkx_internals_are_named_in_few_modules():
    named = _naming(r"\._(?:succ|pred|node|adj)\b")
    assert len(named) <= MAX_NX_PRIVATE_MODULES, named


def test_the_environment_is_read_in_one_place():
    named = _naming(r"GRAPHSVC_")
    assert len(named) <= MAX_ENV_MODULES, named


def test_no_import_cycles():
    assert import_cycles() == []


@pytest.mark.parametrize(
    "source, cycles",
    [
        ({"a": "from . import b", "b": "from . import a"}, [["p.a", "p.b"]]),
        ({"a": "from . import b", "b": "x = 1"}, []),
        ({"a": "def f():\n    from .b import y", "b": "from .a import f"}, [["p.a", "p.b"]]),
    ],
)
def test_cycles_are_found_function_level_imports_included(tmp_path, monkeypatch, source, cycles):
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in source.items():
        (pkg / f"{name}.py").write_text(text)
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "PACKAGE", pkg)
    assert import_cycles() == cycles
