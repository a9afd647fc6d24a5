"""Shared benchmark plumbing: machine facts, corpora (on disk or generated in memory),
servers, fresh-process runs, a light HTTP load client, RSS and percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One benchmark's outcome, printed and written to the results."""

    id: str
    what: str
    size: str
    figures: dict[str, str] = field(default_factory=dict)
    ratio: float | None = None
    ratio_text: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""

    def show(self) -> str:
        figs = "; ".join(f"{k}: {v}" for k, v in self.figures.items())
        verdict = {True: "MET", False: "MISSED", None: "-"}[self.met]
        out = f"[{self.id}] {self.what} ({self.size})\n    {figs}\n"
        out += f"    ratio: {self.ratio_text or '-'}   goal: {self.goal}   -> {verdict}"
        if self.note:
            out += f"\n    note: {self.note}"
        return out


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "nproc": str(os.cpu_count()),
        "ram": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg at start": load,
    }


def corpus(articles: int, seed: int = 1, base: Path | None = None) -> Path:
    """A generated corpus of ``articles`` files, made once and reused."""
    from graphsvc.generate import write_corpus

    base = base or Path(os.environ.get("GRAPHSVC_BENCH_DIR", "/tmp/graphsvc-bench"))
    folder = base / f"corpus-{articles}-s{seed}"
    done = folder / ".complete"
    if not done.exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        t0 = time.perf_counter()
        write_corpus(folder, articles, seed)
        done.write_text("")
        print(f"    (generated {articles} files in {time.perf_counter() - t0:.1f}s)", flush=True)
    return folder


#: Base URL -> process of each server that :func:`server` runs.
PROCESSES: dict[str, subprocess.Popen] = {}


def rss_of(pid: int) -> int:
    """Resident bytes of process ``pid`` now (Linux; 0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _own_status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    """Resident bytes of this process now (Linux)."""
    return _own_status("VmRSS")


def peak_bytes() -> int:
    """The most resident bytes this process has held (Linux)."""
    return _own_status("VmHWM")


def generated_graph(files: int, seed: int, **kw):
    """A graph built in memory from ``files`` generated records (no files on disk), with
    the seconds spent generating and building it; ``kw`` goes to ``generate_records``."""
    from graphsvc.files.loader import FolderRecords, paused_gc
    from graphsvc.generate import generate_records
    from graphsvc.graph import build_graph

    t0 = time.perf_counter()
    with paused_gc():
        records = list(generate_records(files, seed=seed, **kw))
        t_gen = time.perf_counter() - t0
        lg = build_graph(FolderRecords(root="memory", records=records, files=files))
        del records
    gc.collect()
    return lg, t_gen, time.perf_counter() - t0 - t_gen


def run_child(module: str, *args: str) -> dict:
    """Run ``python -m bench.<module> ARGS`` in a fresh process (its memory its own) and
    return the JSON object its last output line holds."""
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_seconds(base: str) -> float:
    """User + system CPU seconds the server at ``base`` has used so far (Linux)."""
    fields = Path(f"/proc/{PROCESSES[base].pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(cmd: list[str], env: dict | None = None, timeout: float = 600) -> Iterator[str]:
    """Run ``cmd`` (which must take ``--port``) on 127.0.0.1; yield its base URL."""
    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server {cmd} exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {cmd} did not start")
            time.sleep(0.1)
        PROCESSES[base] = proc
        yield base
    finally:
        PROCESSES.pop(base, None)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def graphsvc_server(folder: Path, cache_dir: Path, *extra: str):
    return server(
        [sys.executable, "-m", "graphsvc", "serve", str(folder), "--host", "127.0.0.1",
         "--log-level", "warning",
         # A static graph (read from its snapshot when current), and a traversal budget
         # big enough for the large maps the benchmarks ask for.
         "--no-watch", "--max-cost", "1000000000", *extra],
        env={"GRAPHSVC_CACHE_DIR": str(cache_dir)},
    )  # fmt: skip


def baseline_server(folder: Path, cache_dir: Path):
    return server(
        [sys.executable, "-m", "bench.baseline_app", str(folder)],
        env={"GRAPHSVC_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO)},
    )


# -- a light HTTP/1.1 load client ------------------------------------------------------------


def _request(
    host: str, port: int, method: str, path: str, body: bytes | None, headers: dict | None = None
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


async def _one_connection(host, port, requests, latencies, statuses, sizes):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in requests:
            t0 = time.perf_counter()
            writer.write(raw)
            status_line = await reader.readline()
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "transfer-encoding" and "chunked" in value:
                    chunked = True
            if chunked:
                total = 0
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    total += size
                    if size == 0:
                        break
                length = total
            else:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            statuses.append(int(status_line.split()[1]))
            sizes.append(length)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@dataclass
class Load:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: list[int]
    sizes: list[int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


def load(
    base: str,
    bodies: list[tuple],
    concurrency: int = 4,
) -> Load:
    """Send each (method, path, body[, headers]) once, over ``concurrency`` keep-alive
    connections."""
    return load_spread([base], bodies, concurrency)


def load_spread(
    bases: list[str],
    bodies: list[tuple],
    concurrency: int = 8,
) -> Load:
    """As :func:`load`, the requests and connections spread evenly over several servers
    (replicas behind a load balancer, the client side of one); one event loop."""
    targets = []
    for base in bases:
        url = httpx.URL(base)
        assert url.host in ("127.0.0.1", "localhost", "::1"), "benchmarks talk to this machine only"
        targets.append((url.host, url.port))
    conns = []
    for i in range(concurrency):
        host, port = targets[i % len(targets)]
        share = bodies[i::concurrency]
        conns.append((host, port, [_request(host, port, *b) for b in share]))
    latencies: list[float] = []
    statuses: list[int] = []
    sizes: list[int] = []

    async def main():
        await asyncio.gather(
            *(_one_connection(h, p, s, latencies, statuses, sizes) for h, p, s in conns if s)
        )

    t0 = time.perf_counter()
    asyncio.run(main())
    return Load(len(bodies), time.perf_counter() - t0, latencies, statuses, sizes)


def merged(loads: list[Load]) -> Load:
    """Several loads as one: their requests over the sum of their times."""
    return Load(
        sum(x.requests for x in loads),
        sum(x.seconds for x in loads),
        [t for x in loads for t in x.latencies],
        [c for x in loads for c in x.statuses],
        [n for x in loads for n in x.sizes],
    )


def percentile(xs: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``xs``: the value at index ``int(p / 100 * n)``
    of ``xs`` sorted (the last one at most)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def quantile(xs: list[float], q: float) -> float:
    """The value at fraction ``q`` (0-1) of ``xs`` sorted, at the nearest rank
    (``round(q * (n - 1))``): P7, P7M, P9 and P11 report their p50/p99 this way."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.1f} ms"
