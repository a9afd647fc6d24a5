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
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a request may take to arrive, headers and body; 0 disables the bound.
REQUEST_TIMEOUT_ENV = "GRAPHSVC_TIMEOUT_REQUEST"
DEFAULT_REQUEST_TIMEOUT = 10.0


def request_timeout() -> float:
    raw = os.environ.get(REQUEST_TIMEOUT_ENV, "").strip()
    return float(raw) if raw else DEFAULT_REQUEST_TIMEOUT


class GuardedH11Protocol(H11Protocol):
    """See the module docstring. The timeout is read from ``$GRAPHSVC_TIMEOUT_REQUEST``
    (the serve command sets it from ``--timeout-request``), so that it reaches every
    worker process."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._request_timeout = request_timeout()
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
