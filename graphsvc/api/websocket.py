"""The checks on a /graphql websocket before and around Strawberry's handler: a socket
that offers neither graphql-transport-ws nor the legacy graphql-ws subprotocol is
refused at the handshake (one offering both gets graphql-transport-ws), a malformed
message closes it with 4400, and a client that stops reading is dropped. The same checks
hold for both subprotocols."""

from __future__ import annotations

import contextlib

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from .graphql_edge import decode_json, encode_json_bytes

#: The websocket subprotocols served (the app's ``subscription_protocols``), the preferred
#: first: :func:`pick` takes graphql-transport-ws when a client offers both.
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)

SUBPROTOCOL_REFUSAL = (
    "graphsvc speaks the websocket subprotocols graphql-transport-ws and (legacy, "
    "subscriptions-transport-ws) graphql-ws; connect with one of them"
)


async def refuse(scope, receive, send) -> None:
    """Refuse, at the handshake, a websocket that offers neither subprotocol: HTTP 400
    with a GraphQL JSON error naming the protocols to use when the server can send one
    (ASGI's websocket denial response), else close code 4406 with that reason."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    offered = ", ".join(scope.get("subprotocols") or ()) or "none"
    text = f"{SUBPROTOCOL_REFUSAL} (offered: {offered})"
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = encode_json_bytes(
            {"errors": [{"message": text, "extensions": {"code": "UNSUPPORTED_SUBPROTOCOL"}}]}
        )
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    reason = "use the subprotocol graphql-transport-ws or graphql-ws"
    await send({"type": "websocket.close", "code": 4406, "reason": reason})


#: The message that starts an operation, and those that name one, by subprotocol.
_START = {GRAPHQL_TRANSPORT_WS_PROTOCOL: "subscribe", GRAPHQL_WS_PROTOCOL: "start"}
_NAMING = {GRAPHQL_TRANSPORT_WS_PROTOCOL: ("complete",), GRAPHQL_WS_PROTOCOL: ("stop",)}


def websocket_problem(
    data: str | bytes | None, protocol: str = GRAPHQL_TRANSPORT_WS_PROTOCOL
) -> str | None:
    """Why a message of ``protocol`` is malformed (None when it is well formed)."""
    if data is None:
        return "empty message"
    try:
        msg = decode_json(data)
    except ValueError:
        return "WebSocket message must be valid JSON"
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return "a message must be a JSON object with a string `type`"
    start = _START.get(protocol, "subscribe")
    if msg["type"] == start:
        if not isinstance(msg.get("id"), str):
            return f"a {start} message needs a string `id`"
        payload = msg.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return f"a {start} message needs a `payload` object with a string `query`"
        for key, kind in (("operationName", str), ("variables", dict), ("extensions", dict)):
            if payload.get(key) is not None and not isinstance(payload[key], kind):
                return f"`payload.{key}` has the wrong type"
    elif msg.get("payload") is not None and not isinstance(msg["payload"], dict):
        return "`payload` must be an object"
    elif msg["type"] in _NAMING.get(protocol, ()) and not isinstance(msg.get("id"), str):
        return f"a {msg['type']} message needs a string `id`"
    return None


def pick(offered: list[str]) -> str | None:
    """The subprotocol to speak: graphql-transport-ws if offered, else graphql-ws, else None
    (whatever order the client lists them in: the newer protocol is preferred)."""
    return next((p for p in PROTOCOLS if p in offered), None)


def checked(receive, send, send_timeout: float, protocol: str = GRAPHQL_TRANSPORT_WS_PROTOCOL):
    """A malformed message of ``protocol`` closes the socket with 4400 and the reason,
    as the graphql-transport-ws protocol says (the legacy one says nothing: the same
    close), instead of an exception in the handler.
    A message that cannot be sent within ``send_timeout`` seconds (the client stopped
    reading and the buffers are full) closes it with 1008: pings alone cannot tell, as
    the server's ping waits behind the unsent data."""
    closed = False

    async def checked_receive():
        nonlocal closed
        message = await receive()
        if message["type"] == "websocket.receive" and not closed:
            problem = websocket_problem(message.get("text") or message.get("bytes"), protocol)
            if problem is not None:
                closed = True
                await send({"type": "websocket.close", "code": 4400, "reason": problem[:120]})
                return {"type": "websocket.disconnect", "code": 4400}
        return message

    async def checked_send(message):
        nonlocal closed
        if closed:
            return  # the handler's last words after we closed
        if message["type"] != "websocket.send" or send_timeout <= 0:
            await send(message)
            return
        with anyio.move_on_after(send_timeout) as scope:
            await send(message)
        if scope.cancelled_caught:
            closed = True
            reason = "the client does not read its messages"
            # The close frame waits behind the unsent data too: the serve command's
            # websocket protocol (api.http_edge.GuardedWebSocketProtocol) aborts the
            # connection when it cannot be sent within send_timeout, so wait past that.
            with anyio.move_on_after(2 * send_timeout + 1), contextlib.suppress(OSError):
                await send({"type": "websocket.close", "code": 1008, "reason": reason})

    return checked_receive, checked_send


class WebSocketGuard:
    """The checks above around a /graphql websocket (an HTTP request passes unchanged);
    ``send_timeout`` is the longest a message may wait to be sent."""

    def __init__(self, app: ASGIApp, send_timeout: float) -> None:
        self.app, self.send_timeout = app, send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            protocol = pick(list(scope.get("subprotocols") or ()))
            if protocol is None:
                await refuse(scope, receive, send)
                return
            # Strawberry takes the first of the client's list that it serves: the one
            # picked here, so that the checks and the handler speak the same protocol.
            scope = {**scope, "subprotocols": [protocol]}
            receive, send = checked(receive, send, self.send_timeout, protocol)
        await self.app(scope, receive, send)
