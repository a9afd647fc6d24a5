"""P6 in default mode at ~1M articles: the RSS of a process holding the live graph and its
delta state (read from a default-mode snapshot, as ``graphsvc serve DIR`` restarts),
against the same graph alone (a static server's snapshot), each read in a fresh process.

``python -m bench.live_memory_big 770000 [--json F]`` (770k generated files: about 1M
articles). The records come from the generator in memory, as in bench/graph_memory.py.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, rss_bytes


def _read(path: str) -> None:
    """In a fresh process: load the snapshot at ``path``, print the RSS as JSON."""
    from graphsvc import snapshot

    t = time.perf_counter()
    payload = snapshot.load(Path(path), snapshot.Key("memory"))
    seconds = time.perf_counter() - t
    gc.collect()
    state = payload.get("state")
    print(json.dumps({"rss": rss_bytes(), "seconds": seconds, "state": state is not None}))


def run(files: int, seed: int = 1) -> dict:
    from graphsvc import snapshot
    from graphsvc.files.loader import paused_gc
    from graphsvc.generate import generate_records
    from graphsvc.graph.delta import GraphState

    out: dict = {"files": files}
    with tempfile.TemporaryDirectory() as tmp:
        with paused_gc():
            t = time.perf_counter()
            records = {r.path: r for r in generate_records(files, seed=seed)}
            out["seconds_generate"] = time.perf_counter() - t
            st = GraphState(tmp)
            t = time.perf_counter()
            lg = st.apply(None, records, {}, files=files, root="memory")
            out["seconds_state_build"] = time.perf_counter() - t
            out["articles"] = lg.stats().articles
            del records
        key = snapshot.Key("memory")
        live_path, static_path = Path(tmp) / "live.snapshot", Path(tmp) / "static.snapshot"
        # As Corpus.save_snapshot: the state's database copied beside the snapshot
        # (the time the corpus lock is held for it), then the snapshot written.
        side = snapshot.sidecar_path(live_path)
        t = time.perf_counter()
        with st.frozen(side):
            out["seconds_state_copy"] = time.perf_counter() - t
            snapshot.save(live_path, key, {"graph": lg, "state": st, "sigs": {}}, side)
        out["seconds_snapshot_live"] = time.perf_counter() - t
        snapshot.save(static_path, key, {"graph": lg, "state": None, "sigs": {}})
        out["snapshot_bytes_live"] = live_path.stat().st_size
        out["snapshot_bytes_static"] = static_path.stat().st_size
        out["state_db_bytes"] = Path(st.db.path).stat().st_size
        st.close()
        del lg, st
        gc.collect()
        for name, path in (("static", static_path), ("live", live_path)):
            cmd = [sys.executable, "-m", "bench.live_memory_big", "--read", str(path)]
            got = json.loads(subprocess.run(cmd, check=True, cwd=REPO, capture_output=True,
                                            text=True).stdout.strip().splitlines()[-1])  # fmt: skip
            out[f"rss_{name}"] = got["rss"]
            out[f"seconds_read_{name}"] = got["seconds"]
    out["ratio"] = out["rss_live"] / out["rss_static"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.live_memory_big", description=__doc__)
    p.add_argument("files", type=int, nargs="?")
    p.add_argument("--read", help=argparse.SUPPRESS)
    p.add_argument("--json")
    args = p.parse_args(argv)
    if args.read:
        _read(args.read)
        return 0
    out = run(args.files)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    print(
        f"P6 default mode at {out['articles']} articles: {out['rss_live'] / 2**30:.2f} GiB "
        f"against {out['rss_static'] / 2**30:.2f} GiB static = {out['ratio']:.3f}x "
        f"(goal <= 1.1x; <= 4 GB per worker); state file {out['state_db_bytes'] / 2**30:.2f}"
        f" GiB copied in {out['seconds_state_copy']:.1f} s under the lock",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
