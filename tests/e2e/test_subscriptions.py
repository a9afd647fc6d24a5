"""graphChanged over graphql-transport-ws on /graphql, with a real websocket client."""

from __future__ import annotations

import os

from ..conftest import serve
from ..corpus import article, write
from ..livetools import DELETE, TOKEN, WSClient, input_for, title_of, upsert, version, wait_for
from ..livetools import write as mutate

SUB = "subscription { graphChanged { version added changed removed } }"
N = "https://sub.example/n"
F = "https://sub.example/f"


def _warm_up(s, ws: WSClient) -> int:
    """Make changes until the subscription hears one; returns that version. (The server
    starts the subscription after the subscribe message: nothing tells when.)"""
    for i in range(50):
        upsert(s, input_for("https://sub.example/warm-up", f"Warm-up {i}"))
        try:
            return ws.next("1", timeout=0.5)["data"]["graphChanged"]["version"]
        except TimeoutError:
            continue
    raise AssertionError("the subscription never heard a change")


def test_graph_changed_events_arrive_in_order(tmp_path):
    folder = tmp_path / "c"
    write(folder, "seed.md", article("https://sub.example/seed", "Seed"))
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        clients = [WSClient(s.base), WSClient(s.base)]
        for ws in clients:
            ws.subscribe("1", SUB)
        v = _warm_up(s, clients[0])
        while clients[1].next("1")["data"]["graphChanged"]["version"] < v:
            pass  # the second client may have heard earlier warm-ups too

        upsert(s, input_for(N, "New"))  # a write through the API
        write(folder, "f.md", article(F, "From a file"))  # a file dropped in the folder
        wait_for(lambda: title_of(s, F), what="the watcher applies f.md")  # keeps the order
        upsert(s, input_for(N, "New, edited"))
        (folder / "f.md").write_text("---\ntitle: [broken\n---\n")  # breaks: no article changes
        wait_for(lambda: version(s) == v + 4, what="the watcher applies the break")
        assert "errors" not in mutate(s, DELETE, {"url": N})
        os.remove(folder / "f.md")

        expected = [
            {"added": [N], "changed": [], "removed": []},
            {"added": [F], "changed": [], "removed": []},
            {"added": [], "changed": [N], "removed": []},
            {"added": [], "changed": [], "removed": []},
            {"added": [], "changed": [], "removed": [N]},
            {"added": [], "changed": [], "removed": [F]},
        ]
        for ws in clients:
            got = [ws.next("1")["data"]["graphChanged"] for _ in expected]
            assert [g.pop("version") for g in got] == list(range(v + 1, v + 1 + len(expected)))
            assert got == expected
        assert version(s) == v + len(expected)

        # A query over the same websocket reads the version current when it runs.
        ws = clients[0]
        ws.subscribe("2", "{ stats { version } }")
        assert ws.next("2") == {"data": {"stats": {"version": v + len(expected)}}}
        assert ws.recv()["type"] == "complete"
        for ws in clients:
            ws.close()
