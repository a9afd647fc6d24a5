"""The search benchmark runs (tiny sizes; the figures are bench/RESULTS.md's business)."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import REPO


def test_bench_search_smoke():
    out = subprocess.run(
        [sys.executable, "-m", "bench.search", "--articles", "300", "--queries", "6",
         "--no-http"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "[S1]" in out.stdout and "[S2]" in out.stdout
    assert "faster than the loop" in out.stdout  # S2 checked its answers against the loop
