"""uvicorn's HTTP/1.1 protocol with a bound on how long a request may take to arrive.

uvicorn closes a kept-alive connection after ``--timeout-keep-alive``, but only once it
has answered a request on it: a socket that connects and sends nothing, or sends its
headers or body a byte at a time (slowloris), is kept for ever, and enough of them use
up the process's file handles. :class:`GuardedH11Protocol` gives every request
``request_timeout`` seconds from its first byte (or from the connection, for the first
request) until its body is complete; past it the connection is closed.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import ClientDisconnected

#: Seconds a request may take to arrive, headers and body; 0 disables the bound.
DEFAULT_REQUEST_TIMEOUT = 10.0


class GuardedH11Protocol(H11Protocol):
    """See the module docstring. The server passes ``request_timeout`` (the
    ``timeout_request`` setting) with a ``functools.partial`` of this class."""

    def __init__(self, *args, request_timeout: float = DEFAULT_REQUEST_TIMEOUT, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._request_timeout = request_timeout
        self._arrival: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._arrival is None and self._request_timeout > 0:
            self._arrival = self.loop.call_later(self._request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._arrival is not None:
            self._arrival.cancel()
            self._arrival = None

    def _watch(self) -> None:
        """Arm while a request is arriving (headers or body), disarm once it is in."""
        state = self.conn.their_state
        if state is h11.SEND_BODY or (state is h11.IDLE and self.timeout_keep_alive_task is None):
            self._arm()
        else:
            self._disarm()

    def _too_slow(self) -> None:
        self._arrival = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.transport.is_closing() and self.transport.get_protocol() is self:
            self._watch()
        else:
            self._disarm()  # closed, or upgraded to a websocket

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._watch()

    def handle_websocket_upgrade(self, event) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


try:  # uvicorn's default websocket implementation (0.35 and later)
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _WebSocketBase,
    )
except ImportError:  # pragma: no cover - an older uvicorn: its own default
    _WebSocketBase = None


if _WebSocketBase is not None:

    class GuardedWebSocketProtocol(_WebSocketBase):
        """uvicorn's websocket protocol that drops a client that stops reading.

        uvicorn's ``send`` waits, without a bound, until the transport's write buffer
        is below its high-water mark, and a close frame waits behind the unsent data
        like any message; once sent, the close timer only ``close()``s the transport,
        which waits for that data to be flushed too. A client that never reads again
        is kept for ever. Here a send that cannot start within ``--ws-ping-timeout``
        seconds, and a close handshake that has not finished within the close timeout,
        abort the connection (the handler sees a disconnect)."""

        def _abort(self) -> None:
            if not self.disconnected:
                self.transport.abort()

        async def send(self, message) -> None:  # type: ignore[override]
            timeout = self.config.ws_ping_timeout
            if timeout and not self.writable.is_set() and not self.disconnected:
                try:
                    await asyncio.wait_for(self.writable.wait(), timeout)
                except TimeoutError:
                    self._abort()
                    raise ClientDisconnected() from None
            await super().send(message)
            if self.close_timer is not None and message.get("type") == "websocket.close":
                self.close_timer.cancel()
                self.close_timer = self.loop.call_later(self.close_timeout, self._close_timed_out)

        def _close_timed_out(self) -> None:
            self.transport.close()
            if self.transport.get_write_buffer_size():
                self.transport.abort()  # the client does not read: close() would wait

else:  # pragma: no cover
    GuardedWebSocketProtocol = None
