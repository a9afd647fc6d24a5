"""P2: restart from a snapshot against a cold load of the same corpus, each a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import REPO, Row, corpus

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from graphsvc.startup import load_graph
r = load_graph(sys.argv[1], cache=sys.argv[2] == "1")
print(json.dumps({"seconds": time.perf_counter() - t0, "source": r.source,
                  "articles": r.graph.stats().articles}))
"""


def _probe(folder: Path, cache: bool, cache_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(folder), "1" if cache else "0"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "GRAPHSVC_CACHE_DIR": str(cache_dir)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(files: int) -> Row:
    folder = corpus(files)
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp)
        cold = _probe(folder, False, cache_dir)
        first = _probe(folder, True, cache_dir)  # cold, and writes the snapshot
        assert first["source"] == "files"
        warm = [_probe(folder, True, cache_dir) for _ in range(3)]
        assert all(w["source"] == "snapshot" for w in warm), warm
        size = sum(p.stat().st_size for p in cache_dir.glob("*.snapshot"))
    restart = sorted(w["seconds"] for w in warm)[1]
    ratio = restart / cold["seconds"]
    return Row(
        "P2",
        "restart from snapshot (new process, imports included)",
        f"{files} files, {cold['articles']} articles, snapshot {size / 1e6:.0f} MB",
        {
            "snapshot restart": f"{restart:.2f} s (median of 3)",
            "cold load": f"{cold['seconds']:.2f} s",
            "cold load + writing the snapshot": f"{first['seconds']:.2f} s",
        },
        ratio,
        f"{ratio:.3f} of cold",
        "<= 0.1 of cold",
        ratio <= 0.1,
    )
