"""Helpers for tests of a live server: polling with a deadline, authorised writes,
a graphql-transport-ws client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect

#: How long a change may take to show (the service aims at about a second).
BOUND = 5.0

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

UPSERT = """
mutation($input: ArticleInput!) {
  upsertArticle(input: $input) { url paths created version article { title isStub } }
}"""
UPSERT_MANY = """
mutation($inputs: [ArticleInput!]!) {
  upsertArticles(inputs: $inputs) { url paths created version }
}"""
DELETE = """
mutation($url: String!) { deleteArticle(url: $url) { url paths version article { isStub } } }"""


def wait_for(
    check: Callable[[], Any],
    timeout: float = BOUND,
    what: str = "condition",
    server: Any = None,
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds
    (with the end of ``server``'s log, when given, to tell why)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\nserver log:\n{log_tail(server)}" if server is not None else ""
            raise AssertionError(f"{what} not reached within {timeout} s (last: {value!r}){tail}")
        time.sleep(0.05)


def log_tail(server, lines: int = 60) -> str:
    """The end of a server's log without its access lines (one per poll of wait_for)."""
    kept = [line for line in server.logs().splitlines() if " graphsvc.access " not in line]
    return "\n".join(kept[-lines:])


def version(server) -> int:
    return server.data("{ stats { version } }")["stats"]["version"]


def title_of(server, url: str) -> str | None:
    a = server.data("query($u: String!) { article(url: $u) { title } }", {"u": url})["article"]
    return a and a["title"]


def write(server, query: str, variables: dict, headers: dict | None = AUTH) -> dict:
    """Run a mutation; returns the whole JSON body (data and errors)."""
    return server.gql(query, variables, headers=headers or {})


def upsert(server, article: dict, headers: dict | None = AUTH) -> dict:
    body = write(server, UPSERT, {"input": article}, headers)
    assert "errors" not in body, body["errors"]
    return body["data"]["upsertArticle"]


def errors(body: dict) -> list[str]:
    return [e["message"] for e in body.get("errors", [])]


def input_for(url: str, title: str, **more) -> dict:
    """An ArticleInput for a simple article."""
    d = {
        "webUrl": url,
        "title": title,
        "publishedDateTime": "2024-03-01T12:00:00Z",
        "provider": {"name": "Example", "domain": "example.com"},
        "topics": ["AI"],
    }
    d.update(more)
    return d


class WSClient:
    """A graphql-transport-ws client on a real websocket."""

    def __init__(self, base: str, payload: dict | None = None, headers: dict | None = None):
        url = base.replace("http://", "ws://") + "/graphql"
        self.ws = connect(
            url,
            subprotocols=["graphql-transport-ws"],
            additional_headers=headers or {},
            legacy=True,
        )
        self.send({"type": "connection_init", "payload": payload or {}})
        ack = self.recv(10)
        assert ack["type"] == "connection_ack", ack

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = BOUND) -> dict:
        return json.loads(self.ws.recv(timeout))

    def subscribe(self, id: str, query: str) -> None:
        self.send({"id": id, "type": "subscribe", "payload": {"query": query}})

    def next(self, id: str, timeout: float = BOUND) -> dict:
        """The payload of the next message for operation ``id`` (skipping pings)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg.get("type") == "ping":
                self.send({"type": "pong"})
                continue
            assert msg.get("id") == id, msg
            assert msg["type"] == "next", msg
            return msg["payload"]

    def close(self) -> None:
        self.ws.close()
