"""An invalid cursor is not echoed whole in its error (issue 22 item 8: 900 kB in, 900 kB
out): the error shows its start and its length; meanwhile a small query keeps answering."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from ..conftest import SEEDS, serve
from .test_hostile_clients import P99, Probe

BIG = "A" * 900_000  # base64 of something that is no cursor


def test_short_invalid_cursor_is_shown_whole(seeds_server):
    body = seeds_server.gql('{ articles(after: "zzzz") { totalCount } }')
    assert body["errors"][0]["message"] == "invalid cursor: 'zzzz'"


@pytest.mark.alone
def test_900_kb_cursor_is_cut_in_the_error(tmp_path):
    queries = [
        "query($c: String) { articles(after: $c) { totalCount } }",
        "query($c: String) { articles(before: $c, last: 2) { totalCount } }",
        "query($c: String) { providers(after: $c) { totalCount } }",
        "query($c: String) { topics(after: $c) { totalCount } }",
    ]
    with serve(SEEDS, "--no-watch", tmp=tmp_path) as s, Probe(s.base) as probe:
        t0 = time.monotonic()

        def attack(i: int) -> tuple[int, str, int]:
            r = s.client.post("/graphql", json={"query": queries[i % 4], "variables": {"c": BIG}})
            return r.status_code, r.text, len(r.content)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(attack, range(40)))
        while time.monotonic() - t0 < 3:  # enough probe samples for a p99
            time.sleep(0.1)
    for status, text, size in results:
        assert status == 200, (status, text[:300])
        assert size < 1000, (size, text[:300])  # the cursor is not echoed
        assert "invalid cursor of 900000 characters: 'AAAA" in text, text[:300]
        assert "internal error" not in text and "Traceback" not in text
    assert not probe.failures, probe.failures[:3]
    assert probe.p99() <= P99, f"normal query p99 {probe.p99() * 1000:.0f} ms"
