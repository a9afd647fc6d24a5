"""What every download (``GET /export/...``) shares: one of the ``--max-exports`` slots,
held while it renders and streams, and the response that gives the slot back however it
ends, and the JSON error every refusal of a download is. ``graph_downloads.py`` (graphs)
and ``table_downloads.py`` (article tables) use it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .graphql_edge import error_for


def error(request: Request, status: int, message: str, code: str, **kw) -> Response:
    """A download's refusal as every other error of the service: a GraphQL JSON error
    (``{"errors": [{"message", "extensions": {"code", "requestId"}}]}``), not text."""
    return error_for(request.scope, status, message, code, **kw)


def not_loaded(request: Request) -> Response:
    """503 ``NOT_READY`` while the graph loads, as ``/graphql`` answers then."""
    return error(
        request,
        503,
        "the graph is still loading; retry shortly",
        "NOT_READY",
        headers={"Retry-After": "1"},
    )


def take_slot(request: Request) -> Response | None:
    """Take one of the ``--max-exports`` download slots; the 503 to answer when none is
    free (then nothing was taken). The caller gives it back, or :func:`released` does."""
    slots = getattr(request.app.state, "export_slots", None)
    if slots is not None and not slots.acquire(blocking=False):
        limit = request.app.state.settings.max_exports
        return error(
            request,
            503,
            f"refused by the limit max-exports={limit}: {limit} downloads are being "
            "rendered; retry shortly",
            "LIMIT_EXCEEDED",
            headers={"Retry-After": "2"},
            extensions={"limit": "max-exports", "max": limit},
        )
    return None


def give_slot(request: Request) -> None:
    """Give back the slot :func:`take_slot` took."""
    slots = getattr(request.app.state, "export_slots", None)
    if slots is not None:
        slots.release()


class released:  # noqa: N801 - used as a function
    """``chunks``, giving the download slot back once the last is sent, or once the
    response is dropped before that (the client went away, even before the first piece
    was asked for: a generator's ``finally`` would not run then)."""

    def __init__(self, request: Request, chunks: Iterable[str]):
        self._request, self._chunks = request, iter(chunks)
        self._lock = threading.Lock()
        self._held = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            give_slot(self._request)
            close = getattr(self._chunks, "close", None)
            if close is not None:
                with contextlib.suppress(ValueError):  # a worker thread is in it: it ends
                    close()

    def __del__(self) -> None:
        self.close()


class SlotResponse(StreamingResponse):
    """A download streamed from :class:`released` pieces: the slot is given back as soon
    as the response ends, however it ends (sent, failed, the client gone)."""

    def __init__(self, chunks: released, **kw):
        super().__init__(chunks, **kw)
        self._released = chunks

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._released.close()
