"""Both websocket subprotocols on /graphql, graphql-transport-ws and the legacy graphql-ws
(Apollo's subscriptions-transport-ws), under the same auth and limits (issue 23, item 5).

Real clients: Python's ``gql`` (its ``WebsocketsTransport`` speaks either, as told by
``subprotocols``) against a real ``graphsvc serve`` following a folder, with a read
token; raw ``websockets`` where the wire itself is checked."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from graphsvc.api.auth import READ_DENIED_MESSAGE

from ..conftest import Server, serve
from ..corpus import article, write
from ..livetools import AUTH, TOKEN, input_for, upsert

LEGACY, TRANSPORT = "graphql-ws", "graphql-transport-ws"
PROTOCOLS = (LEGACY, TRANSPORT)
READER = "reader-token"
READ = {"Authorization": f"Bearer {READER}"}
CHANGED = """subscription($u: [String!]) {
  articleChanged(urls: $u) { kind url article { title } }
}"""
DEAR = {"OR": [{"title": {"contains": f"zz{i}"}} for i in range(400)]}  # over --max-cost 500
DEAR_SUB = "subscription($w: ArticleWhere) { articleChanged(where: $w) { url } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ws-protocols")
    folder = tmp / "c"
    write(folder, "seed.md", article("https://ws.example/seed", "Seed"))
    env = {"GRAPHSVC_TOKEN": TOKEN, "GRAPHSVC_READ_TOKEN": READER}
    with serve(folder, "--read-token", "--max-cost", "500", tmp=tmp, env=env) as s:
        yield s


def ws_url(server: Server) -> str:
    return server.base.replace("http://", "ws://") + "/graphql"


def transport(server: Server, protocol: str, token: str | None = READER) -> WebsocketsTransport:
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    return WebsocketsTransport(
        url=ws_url(server), subprotocols=[protocol], init_payload=payload, connect_timeout=10
    )


async def _subscribe_and_hear(server: Server, protocol: str, url: str) -> tuple[str, dict, dict]:
    """Subscribe to ``url``'s changes with gql over ``protocol``; write it over HTTP (again
    and again until heard: nothing tells when the server has started the subscription);
    returns the protocol spoken, the first event, and a query's answer on that socket."""
    t = transport(server, protocol)
    async with Client(transport=t) as session:
        spoken = t.subprotocol
        answer = await session.execute(gql("{ stats { documents } }"))  # a query too
        stop = threading.Event()

        def writer() -> None:
            for i in range(60):  # bounded: 60 writes, 0.25 s apart
                if stop.is_set():
                    return
                upsert(server, input_for(url, f"Heard over {protocol} {i}"))
                stop.wait(0.25)

        events = session.subscribe(GraphQLRequest(CHANGED, variable_values={"u": [url]}))
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            event = await asyncio.wait_for(anext(events), 20)
        finally:
            stop.set()
            await events.aclose()
            await asyncio.to_thread(thread.join, 20)
    return spoken, event["articleChanged"], answer


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_subscribe_write_and_hear_the_event(server, protocol):
    url = f"https://ws.example/{protocol}"
    spoken, event, answer = asyncio.run(_subscribe_and_hear(server, protocol, url))
    assert spoken == protocol
    assert answer == {"stats": {"documents": answer["stats"]["documents"]}}
    assert answer["stats"]["documents"] >= 1
    assert event["url"] == url and event["kind"] in ("CREATED", "UPDATED")
    assert event["article"]["title"].startswith(f"Heard over {protocol} ")


async def _refusal(server: Server, protocol: str, query: str, variables: dict) -> dict:
    async with Client(transport=transport(server, protocol)) as session:
        events = session.subscribe(GraphQLRequest(query, variable_values=variables))
        with pytest.raises(TransportQueryError) as e:
            await asyncio.wait_for(anext(events), 20)
        await events.aclose()
    (error,) = e.value.errors
    return error


def test_an_over_cost_where_is_refused_the_same_on_both(server):
    errors = {p: asyncio.run(_refusal(server, p, DEAR_SUB, {"w": DEAR})) for p in PROTOCOLS}
    for protocol, error in errors.items():
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED", (protocol, error)
        assert error["extensions"]["limit"] == "max-cost", (protocol, error)
        assert "max-cost" in error["message"]
    assert errors[LEGACY]["message"] == errors[TRANSPORT]["message"]


# -- on the wire: auth and the cap on operations per socket ---------------------------------
def _open(server: Server, protocol: str, payload: dict):
    ws = connect(ws_url(server), subprotocols=[protocol], open_timeout=10, legacy=True)
    assert ws.subprotocol == protocol
    ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


def _recv(ws) -> dict:
    while True:
        msg = json.loads(ws.recv(10))
        if msg.get("type") not in ("ka", "ping"):
            return msg


def test_a_socket_without_the_read_token_is_refused_on_both(server):
    for payload in ({}, {"Authorization": "Bearer wrong"}):
        # graphql-transport-ws: closed 4403 Forbidden, as its protocol says
        ws = _open(server, TRANSPORT, payload)
        with pytest.raises(ConnectionClosed) as closed:
            _recv(ws)
        assert closed.value.rcvd.code == 4403
        # graphql-ws: connection_error naming what is missing, then closed
        ws = _open(server, LEGACY, payload)
        msg = _recv(ws)
        assert msg == {"type": "connection_error", "payload": {"message": READ_DENIED_MESSAGE}}
        with pytest.raises(ConnectionClosed):
            _recv(ws)
    # and gql, over either, cannot start
    for protocol in PROTOCOLS:

        async def attempt(protocol: str = protocol) -> None:
            async with Client(transport=transport(server, protocol, token=None)) as session:
                await session.execute(gql("{ stats { documents } }"))

        with pytest.raises(Exception) as e:
            asyncio.run(attempt())
        assert not isinstance(e.value, AssertionError)
    # the token in the handshake's headers serves as well as in connection_init
    for protocol in PROTOCOLS:
        ws = connect(ws_url(server), subprotocols=[protocol], additional_headers=READ, legacy=True)
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert _recv(ws)["type"] == "connection_ack"
        ws.close()


def test_the_operations_per_socket_cap_is_refused_by_name_on_both(server):
    start = {LEGACY: "start", TRANSPORT: "subscribe"}
    payload = {"query": CHANGED, "variables": {"u": ["https://ws.example/never"]}}
    refusals = {}
    for protocol in PROTOCOLS:
        ws = _open(server, protocol, READ)
        assert _recv(ws)["type"] == "connection_ack"
        for i in range(100):
            ws.send(json.dumps({"id": f"s{i}", "type": start[protocol], "payload": payload}))
        ws.send(json.dumps({"id": "extra", "type": start[protocol], "payload": payload}))
        msg = _recv(ws)
        assert msg["id"] == "extra" and msg["type"] == "error", msg
        # graphql-transport-ws sends a list of errors, graphql-ws one error
        refusals[protocol] = msg["payload"][0] if protocol == TRANSPORT else msg["payload"]
        ws.close()
    for protocol, error in refusals.items():
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED", (protocol, error)
        assert error["extensions"]["limit"] == "max-subscriptions", (protocol, error)
    assert refusals[LEGACY] == refusals[TRANSPORT]


def test_malformed_legacy_messages_close_the_socket_with_4400(server):
    for bad in (
        {"type": "start", "id": ["not", "a", "string"], "payload": {"query": "{ x }"}},
        {"type": "start", "id": "1"},
        {"type": "start", "id": "1", "payload": {"query": 7}},
        {"type": "stop", "id": {"an": "object"}},
        "not json",
    ):
        ws = _open(server, LEGACY, READ)
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(bad if isinstance(bad, str) else json.dumps(bad))
        with pytest.raises(ConnectionClosed) as closed:
            _recv(ws)
        assert closed.value.rcvd.code == 4400, bad
    assert "Traceback" not in server.logs()


def test_a_mutation_over_legacy_graphql_ws_needs_the_write_token(server):
    """Writes over graphql-ws check the write token as over graphql-transport-ws."""
    m = """mutation($i: ArticleInput!) { upsertArticle(input: $i) { url } }"""
    url = "https://ws.example/legacy-mutation"

    async def run(token: str) -> dict:
        async with Client(transport=transport(server, LEGACY, token)) as session:
            return await session.execute(
                GraphQLRequest(m, variable_values={"i": input_for(url, "M")})
            )

    with pytest.raises(TransportQueryError) as e:
        asyncio.run(run(READER))
    assert e.value.errors[0]["message"] == "the bearer token is not valid for writes"
    assert asyncio.run(run(TOKEN)) == {"upsertArticle": {"url": url}}
    got = server.gql("query($u: String!) { article(url: $u) { title } }", {"u": url}, headers=AUTH)
    assert got == {"data": {"article": {"title": "M"}}}


def test_a_legacy_subscriber_that_never_reads_is_dropped(tmp_path):
    """The send timeout holds for graphql-ws as for graphql-transport-ws
    (test_hostile_clients.test_a_subscriber_that_never_reads_is_dropped)."""
    from ..hostile.test_hostile_clients import assert_an_unread_subscriber_is_dropped

    assert_an_unread_subscriber_is_dropped(tmp_path, "graphql-ws")


def test_a_socket_that_never_initialises_is_closed_on_both(tmp_path):
    """No connection_init within the wait (``--ws-init-timeout``; by default Strawberry's
    60 s): 4408 on both subprotocols (it was graphql-transport-ws's rule only). Both
    sockets wait out the same wait: 3 s here, so that the test does not wait a minute."""
    import time

    from graphsvc.config import Settings

    assert Settings().ws_init_timeout == 60  # the default: Strawberry's minute
    wait = 3.0
    write(tmp_path / "c", "seed.md", article("https://ws.example/seed", "Seed"))
    with serve(tmp_path / "c", "--ws-init-timeout", str(wait), tmp=tmp_path) as s:
        sockets = {p: connect(ws_url(s), subprotocols=[p], legacy=True) for p in PROTOCOLS}
        t0 = time.monotonic()
        codes = {}
        for protocol, ws in sockets.items():
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(90)
            codes[protocol] = closed.value.rcvd.code if closed.value.rcvd else None
        waited = time.monotonic() - t0
    assert codes == {LEGACY: 4408, TRANSPORT: 4408}, codes
    assert wait - 0.5 < waited < wait + 20, waited
