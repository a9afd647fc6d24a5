"""The map's frame rate (issue 13): 5,000 nodes and 20,000 edges panned in headless Chromium.

    python -m bench.map_fps [--runs 5]

Runs the browser test that measures it (``TEST`` below: a real ``graphsvc serve``,
Debian's Chromium, WebGL on llvmpipe where it starts) ``--runs`` times, one after
another, and prints each run's figures and their medians. The baseline, measured in the
same run, is an empty page's frame rate in the same browser (the rate the machine shows
frames at); the ratio is the map's first pan after the layout to it.
The goal is 30 fps (a ratio of 0.5 at 60 Hz).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_browser.py::test_big_map_renders_and_pans"
GOAL = 30.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.map_fps", description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    out = REPO / "build" / "fps.json"
    runs = []
    for i in range(args.runs):
        out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST]
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0 or not out.is_file():
            print(r.stdout[-3000:] + r.stderr[-2000:])
            print(f"run {i + 1}: the test failed or was skipped (rc {r.returncode})")
            return 1
        runs.append(json.loads(out.read_text()))
        print(f"run {i + 1}: {runs[-1]['line']}")
    keys = ("first", "next", "every_edge", "idle")
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(
        f"median of {len(runs)} on {runs[0]['renderer']}: first pan {med['first']:.1f} fps, "
        f"next {med['next']:.1f} fps, every edge drawn {med['every_edge']:.1f} fps; "
        f"empty page (baseline) {med['idle']:.1f} fps; ratio {med['first'] / med['idle']:.2f}; "
        f"goal {GOAL:.0f} fps: {'met' if med['first'] >= GOAL else 'missed'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
