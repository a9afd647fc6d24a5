"""C1: how long `graphsvc --version` and `graphsvc validate` take to answer, against
`python -c pass` measured in the same run (issue 23: the commands import only what
they use; goal: at most 0.5 s above the bare interpreter).

``python -m bench.cli_imports [--repeat N]``: each command runs N times (default 9) as a
new process, interleaved so that a busy moment of the machine hits all of them; the
medians are compared. ``validate`` runs on the seed articles and on a generated folder
of 30 files, with a snapshot folder of its own (the first run writes the snapshot, the
others read it: the figure is the warm one, as a user running it twice sees it).
It also lists the heavy libraries each command imported (``-X importtime``): none
is the point.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, Row, corpus, machine

#: Libraries the server needs and `--version` / `validate` should not import.
HEAVY = ("strawberry", "starlette", "uvicorn", "graphql", "scipy", "numpy", "igraph", "psycopg")

#: The goal: seconds above `python -c pass`.
GOAL_SECONDS = 0.5


def graphsvc_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m graphsvc``."""
    script = Path(sys.executable).parent / "graphsvc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "graphsvc"]


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr[-2000:]}")
    return seconds


def heavy_imports(args: list[str], env: dict) -> list[str]:
    """The :data:`HEAVY` top-level packages ``python -m graphsvc ARGS`` imports."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    found = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            top = line.rsplit("|", 1)[1].strip().split(".")[0]
            if top in HEAVY:
                found.add(top)
    return sorted(found)


def run(repeat: int = 9, files: int = 30) -> Row:
    folder = corpus(files)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GRAPHSVC_CACHE_DIR": tmp, "COLUMNS": "80"}
        gs = graphsvc_command()
        cmds = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "graphsvc --version": [*gs, "--version"],
            "graphsvc validate seeds/": [*gs, "validate", str(REPO / "seeds")],
            f"graphsvc validate ({files} files)": [*gs, "validate", str(folder)],
        }
        for cmd in cmds.values():  # warm the file cache, .pyc files and the snapshots
            _time(cmd, env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(repeat):
            for name, cmd in cmds.items():
                times[name].append(_time(cmd, env))
        heavy = {
            "--version": heavy_imports(["--version"], env),
            "validate": heavy_imports(["validate", str(REPO / "seeds")], env),
        }
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["python -c pass"]
    above = {k: v - base for k, v in med.items() if k != "python -c pass"}
    worst = max(above.values())
    figures = {k: f"{v * 1000:.0f} ms (median of {repeat})" for k, v in med.items()}
    figures |= {f"{k} above python": f"{v * 1000:+.0f} ms" for k, v in above.items()}
    figures |= {f"heavy imports of {k}": ", ".join(v) or "none" for k, v in heavy.items()}
    return Row(
        "C1",
        "command-line start: --version and validate against `python -c pass`",
        f"seeds ({len(list((REPO / 'seeds').iterdir()))} files) and {files} generated files",
        figures,
        worst,
        f"worst {worst:.3f} s above `python -c pass`",
        f"<= {GOAL_SECONDS} s above",
        worst <= GOAL_SECONDS,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cli_imports", description=__doc__)
    p.add_argument("--repeat", type=int, default=9, help="runs of each command (default: 9)")
    p.add_argument("--files", type=int, default=30, help="generated folder (default: 30)")
    args = p.parse_args(argv)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    print(run(args.repeat, args.files).show())
    return 0


if __name__ == "__main__":
    sys.exit(main())
