"""The command line around large corpora: generate, validate with snapshots, --no-cache."""

import subprocess
import sys

from ..conftest import clean_env


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        timeout=120,
    )


def test_generate_then_validate_twice(tmp_path):
    out = tmp_path / "corpus"
    r = run("generate", "--articles", "40", "--out", str(out), "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "wrote 40 articles" in r.stderr
    assert len(list(out.rglob("*.md"))) == 40
    again = run("generate", "--articles", "5", "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr

    env = {"GRAPHSVC_CACHE_DIR": str(tmp_path / "cache")}
    first = run("validate", str(out), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.strip().endswith("0 errors, 0 warnings")
    assert len(list((tmp_path / "cache").glob("*.snapshot"))) == 1
    second = run("validate", str(out), env=env)
    assert second.stdout == first.stdout

    env2 = {"GRAPHSVC_CACHE_DIR": str(tmp_path / "cache2")}
    bypass = run("validate", "--no-cache", str(out), env=env2)
    assert bypass.stdout == first.stdout
    assert not (tmp_path / "cache2").exists()


def _imported(*args: str) -> set[str]:
    """The top-level packages `python -X importtime -m graphsvc ARGS` imports."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in r.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_version_and_validate_import_no_server_library(tmp_path):
    """`--version` and `validate` answer without the server's libraries (issue 23: they
    took 2 s and 4-8 s when everything was imported up front); bench/cli_imports.py
    times them against `python -c pass`."""
    from bench.cli_imports import HEAVY

    from ..conftest import SEEDS

    version = _imported("--version")
    assert not version & set(HEAVY), version & set(HEAVY)
    assert "networkx" not in version and "yaml" not in version
    validate = _imported("validate", "--no-cache", str(SEEDS))
    assert not validate & set(HEAVY), validate & set(HEAVY)


def test_the_cli_start_benchmark_runs(tmp_path, monkeypatch):
    """bench/cli_imports.py (C1) runs and reports its figures (not how fast)."""
    from bench import cli_imports

    monkeypatch.setenv("GRAPHSVC_BENCH_DIR", str(tmp_path / "corpora"))
    row = cli_imports.run(repeat=1, files=5)
    assert row.id == "C1" and row.ratio is not None and row.ratio > 0
    assert row.figures["heavy imports of validate"] == "none", row.figures
