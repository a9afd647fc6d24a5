"""``--read-token`` holds on a read-only server too: the seed articles or a folder served
with ``--no-watch`` and no write token (it was ignored there: every read was open)."""

from __future__ import annotations

import pytest

from ..conftest import serve
from ..news import write_news

READER = "ro-reader-token"


@pytest.mark.parametrize("source", ["seeds", "folder"])
def test_reads_need_the_token_on_a_read_only_server(tmp_path, source):
    folder = write_news(tmp_path / "corpus") if source == "folder" else None
    args = ("--no-watch", "--read-token")
    env = {"GRAPHSVC_READ_TOKEN": READER}
    with serve(folder, *args, tmp=tmp_path, env=env) as s:
        assert "read-only" in s.logs()
        q = {"query": "{ stats { articles } }"}
        for path in ("/graphql", "/map/static", "/export/node-link", "/schema.graphql"):
            if path == "/graphql":
                anon = s.client.post(path, json=q)
                ok = s.client.post(path, json=q, headers={"Authorization": f"Bearer {READER}"})
            else:
                anon = s.client.get(path)
                ok = s.client.get(path, headers={"Authorization": f"Bearer {READER}"})
            assert anon.status_code == 401, (path, anon.status_code)
            assert anon.headers["www-authenticate"] == "Bearer"
            assert ok.status_code == 200, (path, ok.status_code)
        assert s.client.get("/healthz").status_code == 200  # probes stay open
