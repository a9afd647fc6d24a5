"""Hostile requests over HTTP against a real server (issue 9): the response cache never
answers a mutation or an unauthorised request, the cost limit prices every fan-out,
bad bodies get GraphQL errors, the schema follows the read token, the access log
cannot be forged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import serve
from .corpus import article, write
from .livetools import AUTH, TOKEN, UPSERT_MANY, errors

BIG = 250  # articles per batch: the mutation's answer is well over 16 KB


def _inputs(title: str) -> list[dict]:
    return [
        {
            "webUrl": f"https://cache.example/story/{i:04d}",
            "title": f"{title} {i}",
            "publishedDateTime": "2024-03-01T12:00:00Z",
            "provider": {"name": "Example", "domain": "example.com"},
            "topics": ["AI"],
        }
        for i in range(BIG)
    ]


def _post(s, body: dict, headers: dict | None = None) -> httpx.Response:
    return s.client.post("/graphql", json=body, headers=headers or {})


# -- item 3: the whole-response cache ------------------------------------------------------
@pytest.fixture
def folder(tmp_path) -> Path:
    f = tmp_path / "corpus"
    write(f, "seed.md", article("https://cache.example/seed", "Seed"))
    return f


def test_mutation_answers_are_never_replayed(folder, tmp_path):
    body = {"query": UPSERT_MANY, "variables": {"inputs": _inputs("First")}}
    with serve(folder, "--no-watch", tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        for _ in range(3):  # the same authorised, error-free, large mutation
            r = _post(s, body, AUTH)
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
            assert len(r.content) >= 16 * 1024
            written = r.json()["data"]["upsertArticles"]
        # Repeated without a token and with a wrong one: refused, never replayed.
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = _post(s, body, headers)
            assert r.status_code == 200
            assert r.json().get("data") is None, r.text[:300]
            assert errors(r.json()), r.text[:300]
        # A hand edit of one file, then the same upsert: it must be written again.
        first = next(w for w in written if w["url"].endswith("/story/0000"))
        target = folder / first["paths"][0]
        target.write_text(target.read_text().replace("First 0", "Edited by hand"))
        r = _post(s, body, AUTH)
        assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
        assert "First 0" in target.read_text() and "Edited by hand" not in target.read_text()


def test_cached_query_answers_need_the_read_token(folder, tmp_path):
    env = {"GRAPHSVC_TOKEN": TOKEN, "GRAPHSVC_READ_TOKEN": "reader-token"}
    reader = {"Authorization": "Bearer reader-token"}
    with serve(folder, "--no-watch", "--read-token", tmp=tmp_path, env=env) as s:
        fill = {"query": UPSERT_MANY, "variables": {"inputs": _inputs("T")}}
        assert "errors" not in _post(s, fill, AUTH).json()
        q = {"query": "{ articles(first: 300) { nodes { url title excerpt topics { name } } } }"}
        for _ in range(2):
            r = _post(s, q, reader)
            assert r.status_code == 200 and len(r.content) >= 16 * 1024, r.text[:200]
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = _post(s, q, headers)
            assert r.status_code == 401, r.text[:200]
            assert "cache.example" not in r.text
