"""articleChanged (filtered article events) and graphChanged's load report, over a real
websocket."""

from __future__ import annotations

from ..conftest import serve
from ..corpus import article, write
from ..livetools import DELETE, TOKEN, WSClient, input_for, upsert, version, wait_for
from ..livetools import write as mutate

W = "https://ev.example/warm"
A = "https://ev.example/a"
B = "https://ev.example/b"
FIELDS = "kind version url article { title topics { name } provider { domain } } previous { title topics { name } related { url } }"
BY_TOPIC = 'subscription { articleChanged(where: {topics: {any: ["space"]}}) { F } }'.replace(
    "F", FIELDS
)
BY_URL = f'subscription {{ articleChanged(urls: ["{W}", "{A}"]) {{ {FIELDS} }} }}'
GRAPH = "subscription { graphChanged { version added changed removed files reportOnly loadReport { path severity message } } }"


def collect(ws: WSClient, want: dict[str, int], timeout: float = 5.0) -> dict[str, list]:
    """Read messages until each operation id has ``want[id]`` payloads."""
    got: dict[str, list] = {k: [] for k in want}
    while any(len(got[k]) < n for k, n in want.items()):
        msg = ws.recv(timeout)
        if msg.get("type") == "ping":
            ws.send({"type": "pong"})
            continue
        assert msg["type"] == "next", msg
        got[msg["id"]].append(msg["payload"])
    return got


def test_article_changed_filters_and_shows_both_states(tmp_path):
    folder = tmp_path / "c"
    write(folder, "seed.md", article("https://ev.example/seed", "Seed"))
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        ws = WSClient(s.base)
        ws.subscribe("t", BY_TOPIC)
        ws.subscribe("u", BY_URL)
        heard: dict[str, int] = {}
        for i in range(50):  # until both subscriptions hear the warm-up article
            upsert(s, input_for(W, f"Warm {i}", topics=["Space"]))
            try:
                for k, v in collect(ws, {"t": 1, "u": 1}, timeout=0.5).items():
                    heard[k] = v[0]["data"]["articleChanged"]["version"]
            except TimeoutError:
                continue
            if len(heard) == 2:
                break
        v0 = version(s)
        # Drain what the warm-up left for either subscription.
        for sub in ("t", "u"):
            while heard.get(sub, 0) < v0:
                heard[sub] = collect(ws, {sub: 1})[sub][0]["data"]["articleChanged"]["version"]

        upsert(s, input_for(A, "A", topics=["AI"]))  # v0+1: not Space; in urls
        upsert(s, input_for(B, "B", topics=["Space"], related=[{"webUrl": A, "title": "A"}]))
        upsert(s, input_for(B, "B2", topics=["Space"], related=[{"webUrl": A, "title": "A"}]))
        upsert(s, input_for(B, "B3", topics=["AI"]))  # leaves the filter: still UPDATED
        upsert(s, input_for(A, "A2", topics=["Space"]))  # enters it
        assert "errors" not in mutate(s, DELETE, {"url": A})  # v0+6

        got = collect(ws, {"t": 5, "u": 3})
        t = [p["data"]["articleChanged"] for p in got["t"]]
        u = [p["data"]["articleChanged"] for p in got["u"]]

        def brief(e):
            now, before = e["article"], e["previous"]
            return (
                e["kind"],
                e["version"] - v0,
                e["url"],
                now and now["title"],
                now and [x["name"] for x in now["topics"]],
                before and before["title"],
                before and [x["name"] for x in before["topics"]],
            )

        assert [brief(e) for e in t] == [
            ("CREATED", 2, B, "B", ["Space"], None, None),
            ("UPDATED", 3, B, "B2", ["Space"], "B", ["Space"]),
            ("UPDATED", 4, B, "B3", ["AI"], "B2", ["Space"]),
            ("UPDATED", 5, A, "A2", ["Space"], "A", ["AI"]),
            ("DELETED", 6, A, None, None, "A2", ["Space"]),
        ]
        # The previous state's links resolve in the previous version.
        assert t[2]["previous"]["related"] == [{"url": A}]
        assert t[2]["article"]["provider"] == {"domain": "example.com"}
        assert [brief(e)[:4] for e in u] == [
            ("CREATED", 1, A, "A"),
            ("UPDATED", 5, A, "A2"),
            ("DELETED", 6, A, None),
        ]
        ws.close()


def test_graph_changed_says_when_only_the_report_changed(tmp_path):
    folder = tmp_path / "c"
    write(folder, "seed.md", article("https://ev.example/seed", "Seed"))
    write(folder, "f.md", article("https://ev.example/f", "F"))
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        ws = WSClient(s.base)
        ws.subscribe("g", GRAPH)
        for i in range(50):
            upsert(s, input_for(W, f"Warm {i}"))
            try:
                v = collect(ws, {"g": 1}, timeout=0.5)["g"][0]["data"]["graphChanged"]["version"]
                break
            except TimeoutError:
                continue
        while v < version(s):
            v = collect(ws, {"g": 1})["g"][0]["data"]["graphChanged"]["version"]
        (folder / "f.md").write_text("---\ntitle: [broken\n---\n")
        wait_for(lambda: version(s) == v + 1, what="the watcher applies the break")
        e = collect(ws, {"g": 1})["g"][0]["data"]["graphChanged"]
        assert e["reportOnly"] is True
        assert (e["added"], e["changed"], e["removed"], e["files"]) == ([], [], [], ["f.md"])
        assert [i["severity"] for i in e["loadReport"]][0] == "error"
        assert {i["path"] for i in e["loadReport"]} == {"f.md"}
        upsert(s, input_for(W, "Warm again"))
        e = collect(ws, {"g": 1})["g"][0]["data"]["graphChanged"]
        assert e["reportOnly"] is False and e["changed"] == [W] and e["loadReport"] == []
        ws.close()
