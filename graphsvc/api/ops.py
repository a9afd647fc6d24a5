"""Operations: /healthz, /readyz, /metrics, logging, and loading the graph in the background.

Metrics live in :data:`REGISTRY` and are named ``graphsvc_*``. Other features record
their events with the small functions here, e.g. live reload calls
``record_reload(ok=True, seconds=0.4)`` after each reload attempt.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar

import anyio
from graphql import GraphQLError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..graph.current import GraphStore
from ..graph.model import EDGE_KINDS, LinkGraph

log = logging.getLogger("graphsvc")
access_log = logging.getLogger("graphsvc.access")

#: The current request's id, for log lines written anywhere while serving it.
request_id: ContextVar[str] = ContextVar("graphsvc_request_id", default="-")

# -- metrics ----------------------------------------------------------------------------
disable_created_metrics()  # no *_created series
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

REQUESTS = Counter(
    "graphsvc_requests",
    "HTTP requests answered, by route, GraphQL operation name and status.",
    ["path", "operation", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "graphsvc_request_duration_seconds",
    "Time to answer an HTTP request, by route and GraphQL operation name.",
    ["path", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
ERRORS = Counter(
    "graphsvc_graphql_errors",
    "GraphQL errors returned, by operation name and code "
    "(LIMIT_EXCEEDED, INTERNAL, GRAPHQL for a bad query or argument, ...).",
    ["operation", "code"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "graphsvc_limit_refusals",
    "Requests refused or stopped by a limit, by limit name.",
    ["limit"],
    registry=REGISTRY,
)
RELOADS = Counter(
    "graphsvc_reloads",
    "Graph (re)loads, by result (ok or failed).",
    ["result"],
    registry=REGISTRY,
)
LOAD_SECONDS = Gauge(
    "graphsvc_last_load_duration_seconds", "Seconds the last graph load took.", registry=REGISTRY
)

#: Operation names become label values; past this many distinct names, the rest are
#: counted as "other" so that clients cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 200
_op_names: set[str] = set()
_OP_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _OP_NAME.match(name):
        return "invalid"
    if name in _op_names:
        return name
    if len(_op_names) >= MAX_OPERATION_NAMES:
        return "other"
    _op_names.add(name)
    return name


def record_reload(ok: bool = True, seconds: float | None = None) -> None:
    """Count one graph reload attempt (for live reload); ``seconds`` is how long it took."""
    RELOADS.labels(result="ok" if ok else "failed").inc()
    if seconds is not None and ok:
        LOAD_SECONDS.set(seconds)


def record_refusal(limit: str) -> None:
    REFUSALS.labels(limit=limit).inc()


class _GraphCollector:
    """Graph size metrics, read from the store at scrape time (so reloads show at once)."""

    def __init__(self) -> None:
        self.store: GraphStore | None = None

    def collect(self):
        ready = GaugeMetricFamily("graphsvc_ready", "1 once the graph is loaded.")
        lg: LinkGraph | None = self.store.current if self.store is not None else None
        ready.add_metric([], 0 if lg is None else 1)
        yield ready
        if lg is None:
            return
        s = lg.stats()
        for name, doc, value in (
            ("graphsvc_graph_articles", "Articles in the graph (stubs included).", s.articles),
            ("graphsvc_graph_documents", "Articles with a file of their own.", s.documents),
            ("graphsvc_graph_providers", "Providers in the graph.", s.providers),
            ("graphsvc_graph_topics", "Topics in the graph.", s.topics),
            ("graphsvc_graph_files", "Files read for the graph.", s.files),
            ("graphsvc_graph_version", "Version of the graph being served.", s.version),
            ("graphsvc_load_errors", "Errors in the served graph's load report.", s.load_errors),
            ("graphsvc_load_warnings", "Warnings in its load report.", s.load_warnings),
        ):
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], value)
            yield g
        edges = GaugeMetricFamily(
            "graphsvc_graph_edges", "Edges in the graph, by kind.", None, ["kind"]
        )
        for kind, n in _edge_counts(lg).items():
            edges.add_metric([kind], n)
        yield edges

    def describe(self):
        return []


def _edge_counts(lg: LinkGraph) -> dict[str, int]:
    """Edges per kind, counted once per graph version (the graph is read-only)."""
    return lg.derived.extra(("ops", "edge_counts"), lambda: _count_edges(lg))


def _count_edges(lg: LinkGraph) -> dict[str, int]:
    counts = dict.fromkeys(EDGE_KINDS, 0)
    kind: str
    for _, _, kind in lg.g.edges(data="kind"):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


_graph_collector = _GraphCollector()
REGISTRY.register(_graph_collector)


def watch_store(store: GraphStore) -> None:
    """Report ``store``'s graph in /metrics (the last app created wins)."""
    _graph_collector.store = store


# -- endpoints -------------------------------------------------------------------------
class LoadState:
    """What the background load is doing: loading, ready, or failed (with the reason)."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.started = time.monotonic()
        #: True while a background load runs: not ready before it has finished (a live
        #: corpus publishes its graph first, then sets up its watcher), so that a change
        #: made once /readyz answers 200 is followed.
        self.loading = False
        #: More for /readyz once ready (e.g. a store-backed replica's lag); a JSON object.
        self.details: Callable[[], dict] | None = None
        #: Run once the graph is loaded and warmed (the app starts the search index's
        #: first build there, in a thread of its own).
        self.after_load: Callable[[], None] | None = None
        #: Why part of the service (writes) cannot be used now though its graph is loaded
        #: and reads are served (e.g. a store that does not answer), or None; blocking,
        #: so /readyz runs it in a thread. Readiness stays 200: a store shared by every
        #: replica that stops answering must not take reads down everywhere.
        self.check: Callable[[], str | None] | None = None
        #: When a failed load is tried again (``time.time()``), while ``error`` says why.
        self.retry_at: float | None = None


def routes(store: GraphStore, state: LoadState) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        lg = store.current
        if lg is not None and not state.loading:
            s = lg.stats()
            body = {"status": "ready", "version": s.version, "articles": s.articles}
            body["pid"] = os.getpid()
            why = None
            if state.check is not None:
                why = await anyio.to_thread.run_sync(state.check)
            if state.details is not None:
                body.update(state.details())
            if why is not None:
                body["degraded"] = why
            return JSONResponse(body)
        body = {"status": "failed", "error": state.error} if state.error else {"status": "loading"}
        if state.error and state.retry_at is not None:
            body["retryIn"] = round(max(0.0, state.retry_at - time.time()), 1)
            body["retryAt"] = _utc(state.retry_at)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def warm(lg: LinkGraph | None) -> None:
    """Build a loaded version's query columns and the cost limiter's fan-outs now, in
    the loading thread: else the first list of articles and the first priced request
    build them on the event loop while every other request waits (25 s at 1M
    articles). Later versions derive theirs from these by what changed."""
    if lg is None:
        return
    from ..graph.query import columns  # noqa: PLC0415
    from .cost import GraphSize  # noqa: PLC0415

    t0 = time.perf_counter()
    try:
        columns(lg)
        GraphSize.of(lg)
    except Exception:  # noqa: BLE001 - an optimisation: a request builds them instead
        log.exception("warming the graph's caches failed")
        return
    log.info("query columns and fan-outs built in %.2fs", time.perf_counter() - t0)


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


#: A failed load is tried again after this many seconds, doubling up to the second.
LOAD_RETRY_SECONDS = (1.0, 30.0)


def load_in_background(
    store: GraphStore, load: Callable[[], LinkGraph | None], state: LoadState | None = None
) -> threading.Thread:
    """Load the graph in a thread and swap it in; the server answers meanwhile.

    ``load`` may instead put the graph in the store itself and return None (a live
    corpus does, and may already have newer versions there by the time it returns).
    A load that fails (a full disk, say) is tried again after 1 s, doubling up to 30 s
    (:data:`LOAD_RETRY_SECONDS`), until it works: /readyz says why and when, the log
    says so once per try."""

    def attempt() -> LinkGraph | None:
        delay, most = LOAD_RETRY_SECONDS
        tries = 0
        while True:
            tries += 1
            try:
                lg = load()
            except Exception as e:  # noqa: BLE001 - reported at /readyz and in the log
                record_reload(ok=False)
                log.error(
                    "graph load failed (try %d): %s: %s; trying again in %g s",
                    tries,
                    type(e).__name__,
                    e,
                    delay,
                    exc_info=tries == 1,  # the traceback once
                )
                if state is not None:
                    state.error = f"{type(e).__name__}: {e}"
                    state.retry_at = time.time() + delay
                time.sleep(delay)
                delay = min(delay * 2, most)
                continue
            if state is not None:
                state.error = state.retry_at = None
            if tries > 1:
                log.info("graph load worked at try %d", tries)
            return lg

    def run() -> None:
        t0 = time.perf_counter()
        try:
            lg = attempt()
        finally:
            if state is not None:
                state.loading = False
        if lg is None:
            lg = store.current
            if lg is None:  # ``load`` must have put its graph in the store
                raise RuntimeError("the load returned no graph and put none in the store")
        else:
            store.swap(lg)
        # The graph lives on: keep the cyclic collector from walking its millions of
        # objects again and again. Later versions share it; what they replace is freed
        # by reference counting (graph.current.release), never by a full collection.
        gc.freeze()
        record_reload(ok=True, seconds=time.perf_counter() - t0)
        log.info(
            "graph loaded: %d articles in %.2fs", lg.stats().articles, time.perf_counter() - t0
        )
        warm(store.current or lg)
        if state is not None and state.after_load is not None:
            try:
                state.after_load()
            except Exception:  # noqa: BLE001 - an optimisation: requests do it instead
                log.exception("preparing the loaded graph failed")

    if state is not None:
        state.loading = True
    t = threading.Thread(target=run, name="graphsvc-load", daemon=True)
    t.start()
    return t


# -- logging ---------------------------------------------------------------------------
class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class _Quiet(logging.Filter):
    """Strawberry logs every GraphQL error with its traceback. Keep only the unexpected
    ones (masked from clients, so the log is the only place to see them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .limit_errors import is_expected  # noqa: PLC0415

        err = record.msg
        return not (isinstance(err, GraphQLError) and is_expected(err))


_FIELDS = ("operation", "status", "duration_ms", "method", "path", "errors", "client")


class JSONFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)  # UTC; a builtin, so never bound either way

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for k in _FIELDS:
            if hasattr(record, k):
                out[k] = getattr(record, k)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with control characters (CR, LF, ESC, ...) as ``\\xNN`` escapes, so that
    a request path or header cannot forge a log line or drive a terminal.

    >>> escape_controls("/a\\nGET /forged 200")
    '/a\\\\x0aGET /forged 200'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class TextFormatter(logging.Formatter):
    """One line per record: the message's control characters are escaped (a traceback,
    added after it, keeps its lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    converter = staticmethod(time.gmtime)  # UTC; a builtin, so never bound either way


def configure_logging(json_lines: bool = False, level: str = "info") -> None:
    """Log to stderr, one line per record (JSON objects with ``json_lines``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if json_lines else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("strawberry.execution").addFilter(_Quiet())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
