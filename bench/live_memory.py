"""P6L, P6 in default mode: RSS of `graphsvc serve DIR` following its folder, against the same
graph served static (`--no-watch`, read-only), each a fresh server on the same corpus."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

from .common import Row, corpus, rss_of, server


def _measure(folder: Path, cache: Path, *extra: str) -> tuple[int, dict]:
    """The RSS of ``graphsvc serve folder *extra`` once ready and settled, and its /readyz."""
    cmd = [sys.executable, "-m", "graphsvc", "serve", str(folder), "--host", "127.0.0.1",
           "--log-level", "warning", *extra]  # fmt: skip
    with server(cmd, env={"GRAPHSVC_CACHE_DIR": str(cache)}, timeout=1800) as base:
        while httpx.get(base + "/readyz", timeout=30).status_code != 200:
            time.sleep(0.5)
        ready = httpx.get(base + "/readyz", timeout=30).json()
        time.sleep(2)
        return rss_of(ready["pid"]), ready


def run(files: int) -> Row:
    folder = corpus(files)
    with tempfile.TemporaryDirectory() as tmp:
        live, info = _measure(folder, Path(tmp) / "live")
        live2, _ = _measure(folder, Path(tmp) / "live")  # a restart: from the snapshot
        static, _ = _measure(folder, Path(tmp) / "static", "--no-watch")
    worst = max(live, live2)
    return Row(
        "P6L",
        "RSS of default mode (following, writable state) against the same graph static",
        f"{files} files, {info['articles']} articles",
        {
            "default mode, cold start": f"{live / 1e6:.0f} MB",
            "default mode, from its snapshot": f"{live2 / 1e6:.0f} MB",
            "static (--no-watch)": f"{static / 1e6:.0f} MB",
        },
        ratio=worst / static,
        ratio_text=f"{live / static:.2f} / {live2 / static:.2f} x static",
        goal="<= 1.1 x static; <= 4 GB per worker at ~1M articles",
        met=worst / static <= 1.1,
    )
