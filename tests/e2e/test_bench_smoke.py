"""A seconds-long run of every benchmark on tiny sizes, so the benchmark code cannot rot.

It checks that each benchmark runs and reports figures, not how fast anything is.
"""

import json


def test_benchmarks_run_on_tiny_sizes(tmp_path, monkeypatch):
    from bench.__main__ import main

    monkeypatch.setenv("GRAPHSVC_BENCH_DIR", str(tmp_path / "corpora"))
    out = tmp_path / "rows.json"
    assert main(["--smoke", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    ids = ["P1", "P2", "P3", "P4", "P5", "P6", "P6L", "P7", "P8", "P7M", "P9", "P10"]
    assert [r["id"] for r in rows] == ids
    for r in rows:
        assert r["figures"] and all(r["figures"].values()), r
