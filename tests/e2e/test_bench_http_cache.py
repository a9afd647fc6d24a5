"""The HTTP caching benchmark runs (tiny sizes; the figures are bench/RESULTS.md's business)."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import REPO, clean_env


def test_bench_http_smoke(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.http_cache", "--files", "200", "--requests", "8",
         "--connections", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=clean_env(GRAPHSVC_BENCH_DIR=str(tmp_path)),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "[H1]" in out.stdout and "304" in out.stdout and "x the computed full GET" in out.stdout
