"""Hostile clients against a real server (issue 9 items 5, 7, 11; done-means 3): idle
sockets, slow headers and bodies, websocket consumers that never read, oversize websocket
messages, concurrent exports. Throughout, a normal query keeps answering in time."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import SEEDS, serve

#: A normal query's p99 while the hostile clients run (the issue: 250 ms; the shared
#: 2-core machine may need more: set GRAPHSVC_TEST_P99_S).
P99 = float(os.environ.get("GRAPHSVC_TEST_P99_S", "0.25"))
NORMAL = {"query": "{ stats { version articles } }"}


@contextlib.contextmanager
def server(tmp: Path, *args: str, nofile: int | None = None, folder: Path = SEEDS) -> Iterator[str]:
    """`graphsvc serve` in a child process, with its file-handle limit lowered to
    ``nofile`` (set in the child only); yields its base URL."""

    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with serve(folder, "--no-watch", *args, tmp=tmp, preexec_fn=limit) as s:
        yield s.base


class Probe:
    """Sends the normal query every 10 ms; records latencies. (Over the test's ~5 s that
    is ~250 samples, so p99 is a 99th percentile: at 50 ms it was the slowest of ~60,
    and one scheduling hiccup of the shared 2-core machine failed the test.)"""

    def __init__(self, base: str):
        self.base = base
        self.times: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as c:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.post("/graphql", json=NORMAL)
                    if r.status_code != 200 or "errors" in r.json():
                        self.failures.append(r.text[:200])
                except httpx.HTTPError as e:
                    self.failures.append(repr(e))
                self.times.append(time.perf_counter() - t0)
                self._stop.wait(0.01)

    def __enter__(self) -> Probe:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join(15)

    def p99(self) -> float:
        xs = sorted(self.times)
        return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def _connect(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def _closed_by_server(socks: list[socket.socket], within: float) -> int:
    """Wait up to ``within`` seconds; return how many sockets the server closed."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + within
    while closed < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(s)
                closed += 1
    sel.close()
    return closed


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


# -- item 7: idle connections cannot use up the server's file handles ----------------------
def test_idle_sockets_are_closed_and_the_server_keeps_answering(tmp_path):
    args = ("--timeout-request", "2", "--timeout-keep-alive", "2")
    with server(tmp_path, *args, nofile=256) as base:
        socks = _connect(_port(base), 1200)
        try:
            # 1,200 sockets, at most ~240 held at once: about five rounds of 2 s.
            closed = _closed_by_server(socks, within=45)
            assert closed == len(socks), f"{closed} of {len(socks)} closed by the server"
        finally:
            for s in socks:
                s.close()
        t0 = time.perf_counter()
        r = httpx.post(base + "/graphql", json=NORMAL, timeout=10)
        assert r.status_code == 200 and "errors" not in r.json()
        assert time.perf_counter() - t0 < 2


# -- done-means 3: hostile clients while a normal query keeps answering ---------------------
def _slow_sender(port: int, head: bytes, stop: threading.Event, out: list[float]) -> None:
    """Sends ``head`` a byte every 0.2 s; records when the server closed the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    try:
        for b in head:
            if stop.is_set():
                return
            s.sendall(bytes([b]))
            time.sleep(0.2)
        out.append(float("inf"))  # never closed
    except OSError:
        out.append(time.monotonic() - t0)
    finally:
        s.close()


def _ws_handshake(
    port: int, rcvbuf: int | None = None, protocol: str = "graphql-transport-ws"
) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(
        b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol.encode() + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101") and protocol.encode() in head, head
    return s


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (mask of zeros: the payload goes as is)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


def _is_closed(s: socket.socket, within: float) -> bool:
    """True when the server closes ``s`` within ``within`` seconds (reading and
    discarding whatever it sends)."""
    s.settimeout(0.5)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if not s.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


@pytest.mark.alone
def test_hostile_clients_while_a_normal_query_answers(tmp_path):
    args = (
        "--timeout-request", "2", "--timeout-keep-alive", "2",
        "--ws-ping-interval", "1", "--ws-ping-timeout", "2",
    )  # fmt: skip
    t_start = time.monotonic()
    with server(tmp_path, *args) as base, Probe(base) as probe:
        port = _port(base)
        stop = threading.Event()
        slow: list[float] = []
        heads = [
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" * 5,
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"{" * 100,
        ]
        senders = [
            threading.Thread(target=_slow_sender, args=(port, heads[i % 2], stop, slow))
            for i in range(40)
        ]
        for t in senders:
            t.start()
        idle = _connect(port, 150)
        # A websocket consumer that subscribes and never reads again, and one that
        # never answers a ping: both must be dropped.
        never_reads = _ws_handshake(port)
        never_reads.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        never_reads.sendall(_frame(json.dumps({"type": "connection_init"}).encode()))
        # An oversize message (2 MiB, over the 1 MiB body cap): closed.
        big = _ws_handshake(port)
        payload = json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": "{" + " " * (2 << 20) + "}"}}
        ).encode()
        with contextlib.suppress(OSError):
            big.sendall(_frame(payload))
        assert _is_closed(big, within=5), "an oversize websocket message was accepted"
        closed_idle = _closed_by_server(idle, within=8)
        time.sleep(0.5)
        # The consumer that never reads (nor answers pings) is dropped by the ping timeout.
        deadline = time.monotonic() + 10
        dropped = False
        never_reads.setblocking(False)
        while time.monotonic() < deadline and not dropped:
            dropped = _peek_closed(never_reads)
            time.sleep(0.2)
        stop.set()
        for t in senders:
            t.join(15)
        for s in (*idle, never_reads, big):
            s.close()
    assert closed_idle == len(idle), f"{closed_idle} of {len(idle)} idle sockets closed"
    assert slow and max(slow) < 5, f"slow senders kept for {sorted(slow)[-3:]} s"
    assert dropped, "a websocket client that never answers pings was kept"
    assert not probe.failures, probe.failures[:3]
    assert len(probe.times) > 150, len(probe.times)
    assert probe.p99() < P99, f"normal query p99 {probe.p99() * 1000:.0f} ms"
    assert time.monotonic() - t_start < 60


def _peek_closed(s: socket.socket) -> bool:
    """Has the server closed ``s``? Reads what is there (pings) and looks for EOF."""
    try:
        while True:
            data = s.recv(1 << 16)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


# -- item 5: whole-graph exports are bounded ---------------------------------------------
def test_concurrent_whole_graph_exports_are_capped(tmp_path, shared_corpus):
    with server(tmp_path, "--max-exports", "1", folder=shared_corpus) as base:
        results: list[int] = []

        def get() -> None:
            r = httpx.get(base + "/export/graphml", timeout=60)
            results.append(r.status_code)
            if r.status_code == 503:
                assert "max-exports" in r.text and r.headers["retry-after"]

        threads = [threading.Thread(target=get) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert 200 in results and 503 in results, results
        assert set(results) <= {200, 503}
        assert httpx.get(base + "/export/graphml", timeout=60).status_code == 200


@pytest.fixture(scope="module")
def shared_corpus() -> Path:
    from ..conftest import SHARED_CORPUS

    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"{SHARED_CORPUS} is absent")
    return SHARED_CORPUS


# -- item 11: a websocket consumer that stops reading is dropped ----------------------------
def test_a_subscriber_that_never_reads_is_dropped(tmp_path):
    assert_an_unread_subscriber_is_dropped(tmp_path, "graphql-transport-ws")


#: What each subprotocol's client sends to start a subscription.
START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}


def assert_an_unread_subscriber_is_dropped(tmp_path, protocol: str) -> None:
    """A subscriber over ``protocol`` that never reads its socket is closed by the send
    timeout while writes go on."""
    from ..corpus import article, write
    from ..livetools import AUTH, TOKEN, UPSERT_MANY

    folder = tmp_path / "corpus"
    write(folder, "seed.md", article("https://slow.example/seed", "Seed"))
    # No pings: only the send timeout (--ws-ping-timeout) can tell that it stopped reading.
    args = ("--ws-ping-interval", "0", "--ws-ping-timeout", "2")
    with serve(folder, *args, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        ws = _ws_handshake(_port(s.base), rcvbuf=4096, protocol=protocol)
        ws.sendall(_frame(json.dumps({"type": "connection_init", "payload": {}}).encode()))
        query = "subscription { graphChanged { version added } }"
        sub = {"id": "1", "type": START[protocol], "payload": {"query": query}}
        ws.sendall(_frame(json.dumps(sub).encode()))
        time.sleep(0.5)
        # Changes of ~200 KB each, never read, until the server's buffers are full.
        path = "p" * 1500
        end = time.monotonic() + 20
        n = 0
        while time.monotonic() < end and n < 40:
            inputs = [
                {"webUrl": f"https://slow.example/{path}/{n}/{i}", "title": f"T{n} {i}"}
                for i in range(150)
            ]
            body = {"query": UPSERT_MANY, "variables": {"inputs": inputs}}
            r = s.client.post("/graphql", json=body, headers=AUTH)
            assert "errors" not in r.json(), r.text[:200]
            n += 1
        time.sleep(3)  # past the send timeout
        dropped = _is_closed(ws, within=10)  # reads what was sent, then the close
        ws.close()
        assert dropped, f"still connected after {n} changes it never read"
        assert "Traceback" not in s.logs()
        assert s.data("{ stats { version } }")
