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
