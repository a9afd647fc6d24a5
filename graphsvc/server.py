"""One server assembly: :func:`build_server` makes the app for every mode of ``serve``.

The modes, decided from the :class:`~graphsvc.config.Config` by :func:`serve_mode`:

* ``live``: a folder followed while it runs, accepting writes (with a write token);
* ``static``: a folder that does not change (``--no-watch`` and read-only, or the seed
  articles), loaded from its snapshot when current;
* ``store``: a PostgreSQL store, following its change log; writes go to the store.

``--workers N`` runs N processes of ``live`` (versions shared through a journal) or
``static``: :func:`serve` loads once in a short-lived child (writing the snapshot the
workers start from) and each worker is :func:`worker_app`, which calls
:func:`build_server` with the same config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, SettingError, mib


class ServeError(Exception):
    """``serve`` cannot start with this configuration (exit status 2)."""


@dataclass
class Server:
    """An assembled server: the app, the corpus behind it, how to load it (run in the
    background by :meth:`start_loading`), and the line announcing it."""

    config: Config
    mode: str
    app: Any
    corpus: Any
    load: Callable[[], None]
    banner: str
    #: The load's phases on stderr (None: a worker's load shows none).
    display: Any = None

    def start_loading(self):
        """Load in a thread while the app answers (``/readyz`` 503 until loaded)."""
        from .api import ops

        return ops.load_in_background(self.app.state.store, self.load, self.app.state.load_state)


def serve_mode(config: Config) -> str:
    """``store``, ``static`` or ``live`` (see the module docstring)."""
    if config.store and not config.dir:
        return "store"
    writable = config.dir is not None and bool(config.token or config.token_file)
    if not config.watch and not writable:
        return "static"
    if config.workers > 1 and config.dir is None:  # the seed articles: read-only
        return "static"
    return "live"


def corpus_folder(config: Config) -> Path:
    """The folder served: ``dir``, else the seed articles."""
    from .startup import default_corpus

    folder = Path(config.dir) if config.dir else default_corpus()
    if not folder.is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    return folder


def auth_for(config: Config, writable: bool = True):
    """The server's tokens (see :func:`graphsvc.api.auth.auth_from_options`)."""
    from .api.auth import auth_from_options

    return auth_from_options(
        config.token_file,
        config.reads_need_token,
        config.read_token_file,
        writable=writable,
        token=config.token,
        read_token=config.read_token,
    )


def _interval(config: Config) -> dict:
    if config.snapshot_interval is None:
        return {}
    return {"snapshot_interval": config.snapshot_interval}


def _app(store, config: Config, **kw):
    from .api import memo
    from .api.app import create_app

    memo.documents.resize(mib(config.settings.document_cache_mb))
    return create_app(store, config.settings, **kw)


def build_server(
    config: Config, *, assets=None, worker: bool = False, mode: str | None = None
) -> Server:
    """The app of ``config``'s mode (or ``mode``), with its corpus and its load, not
    yet loading.

    ``worker``: one of ``--workers`` processes (its load prints nothing; a live one
    shares versions with the others through the journal)."""
    from .graph.current import GraphStore

    mode = mode or serve_mode(config)
    store = GraphStore()
    if mode == "store":
        return _build_store(config, store, assets)
    from .corpus import folder_corpus

    folder = corpus_folder(config)
    live = mode == "live"
    corpus = folder_corpus(
        folder,
        store,
        load=False,
        cache=config.cache,
        cache_dir=config.snapshots(),
        keep_state=live,
        shared=live and worker,
        **_interval(config),
    )
    if live:
        app = _app(
            store, config, live=corpus, auth=auth_for(config, config.dir is not None), assets=assets
        )
    else:  # read-only, but --read-token holds (it was ignored here)
        app = _app(store, config, auth=auth_for(config, config.dir is not None), assets=assets)

    display = None if worker else _show_phases(app, store)

    def load() -> None:
        if display is None:
            corpus.load()
        else:
            from .loading import preload

            preload(folder, config, corpus=corpus, live=live, display=display)
            _indexes_next(display, corpus.graph)
        if live and config.watch:
            corpus.start_watching()
        # None: the corpus has put the graph in the store (and may have a newer one)

    return Server(config, mode, app, corpus, load, _banner(config, mode, folder), display)


def _show_phases(app, store):
    """The display of a server's load phases (:mod:`graphsvc.phases`): the load shows
    parsing, graph and snapshot; then, as the loading thread goes on, indexes (until
    the search index starts: ``after_load``) and search, which ends the display once
    the index (built in a thread of its own) is there."""
    import threading

    from .phases import LoadDisplay

    display = LoadDisplay()
    state = app.state.load_state
    prepare = state.after_load

    def after_load() -> None:
        display.start("search")
        try:
            if prepare is not None:
                prepare()
        except BaseException:
            display.finish()
            raise
        threading.Thread(target=_finish_when_searchable, args=(display, store), daemon=True).start()

    state.after_load = after_load
    return display


def _finish_when_searchable(display, store) -> None:
    """End ``display`` once the first search index of ``store`` is built, or its build
    failed (logged by the index), or after an hour."""
    from .graph.search import IndexBuilding, index_for

    try:
        index, lg = index_for(store), store.current
        for _ in range(720 if lg is not None else 0):
            try:
                index.wait_built(lg, 5)  # returns when built, or when the build ended
                return
            except IndexBuilding:
                continue
    except Exception:  # noqa: BLE001 - the index logs its own failures; a search says why
        return
    finally:
        display.finish()


def _indexes_next(display, lg) -> None:
    """After the load: the indexes' phase (shown for a large graph, even one from its
    snapshot)."""
    from .phases import MIN_FILES

    if lg is not None and lg.stats().files >= MIN_FILES:
        display.arm()
    display.start("indexes")


def _host(config: Config) -> str:
    return f"[{config.host}]" if ":" in config.host else config.host


def _banner(config: Config, mode: str, where) -> str:
    at = f"GraphiQL at http://{_host(config)}:{config.port}/graphql"
    if mode == "store":
        writes = "writes with the bearer token" if auth_for(config).writable else "read-only"
        return f"graphsvc: serving the store {where} (following its change log; {writes}) - {at}"
    if config.workers > 1:
        if mode == "static":
            return (
                f"graphsvc: serving {where} (read-only, {config.workers} worker processes) - {at}"
            )
        return (
            f"graphsvc: serving {where} ({config.workers} worker processes, each following "
            f"changes and accepting writes, versions shared) - {at}"
        )
    if mode == "static":
        return f"graphsvc: serving {where} (read-only, not following changes) - {at}"
    auth = auth_for(config, config.dir is not None)
    following = "following changes" if config.watch else "not following changes (--no-watch)"
    writes = "writes with the bearer token" if auth.writable else "read-only"
    reads = ", reads with a bearer token" if auth.reads_need_token else ""
    return f"graphsvc: serving {where} ({following}; {writes}{reads}) - {at}"


# -- the PostgreSQL store ---------------------------------------------------------------
def open_store(config: Config):
    """The PostgreSQL store ``config`` names."""
    from .store import PgStore

    return PgStore.open(config.store, config.store_password_file)


def _build_store(config: Config, store, assets) -> Server:
    from .api import ops
    from .corpus.postgres import PostgresSource, store_corpus
    from .errors import StoreError, StoreUnavailable
    from .store.metrics import register

    pg = open_store(config)
    try:
        pg.migrate()  # a store newer than this code is refused here, before serving
    except StoreError as e:
        raise ServeError(str(e)) from None
    except StoreUnavailable as e:  # serve anyway (503 at /readyz) and keep trying
        print(f"graphsvc: {e}; retrying in the background", file=sys.stderr)
    settings = config.settings
    write_timeout = config.store_write_timeout
    if settings.time_limit > 0:  # a write answers within its operation's time limit
        write_timeout = min(write_timeout, settings.time_limit / 2)
    live = store_corpus(
        pg,
        store=store,
        cache=config.cache,
        cache_dir=config.snapshots(),
        write_timeout=write_timeout,
        **_interval(config),
    )
    app = _app(store, config, live=live, auth=auth_for(config), assets=assets)
    source = live.source
    assert isinstance(source, PostgresSource)  # store_corpus's
    register(source.feed, ops.REGISTRY)
    state = app.state.load_state
    state.details = lambda: {"store": source.feed.status().report(), **source.start_report()}
    state.check = source.feed.check  # /readyz: says so while the store does not answer

    def load() -> None:
        from .loading import describe, load_store

        delay = 0.5
        while True:
            try:
                pg.migrate()
                t0 = time.perf_counter()
                load_store(live)
                break
            except StoreUnavailable as e:
                print(f"graphsvc: {e}; retrying in {delay:g} s", file=sys.stderr, flush=True)
                time.sleep(delay)
                delay = min(delay * 2, 10)
        lg = store.current
        describe(lg, time.perf_counter() - t0)
        done = live.loaded
        assert done is not None  # load_store loaded it
        how = (
            f"its snapshot and {done.reread} versions of the log"
            if done.source == "snapshot+log"
            else "a full read of the store" + (f" ({done.note})" if done.note else "")
        )
        print(f"graphsvc: version {lg.version} from {how}", file=sys.stderr, flush=True)
        live.start_watching()

    return Server(config, "store", app, live, load, _banner(config, "store", pg.where))


# -- running it ------------------------------------------------------------------------
def listen_socket(config: Config, inheritable: bool = False):
    """The socket ``serve`` listens on, bound now: a port in use (or a host that is not
    this machine's) is a :class:`ServeError` before anything says it is serving."""
    import errno
    import socket

    host, port = config.host, config.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if isinstance(e, socket.gaierror):
            raise ServeError(f"cannot listen on {host!r}: {e.strerror}") from None
        if e.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is in use (another server?); choose another with --port"
            ) from None
        if e.errno == errno.EACCES:
            raise ServeError(
                f"not allowed to listen on port {port} (ports below 1024 need privileges)"
            ) from None
        raise ServeError(f"cannot listen on {host} port {port}: {e.strerror or e}") from None
    sock.set_inheritable(inheritable)
    return sock


def _bound_port(config: Config, sock) -> Config:
    """``config`` with the port ``sock`` got (``--port 0``: one the system chose)."""
    return dataclasses.replace(config, port=sock.getsockname()[1])


def _run(config: Config, app, sock) -> Any:
    """Run uvicorn with ``app`` on the bound ``sock``; the uvicorn server."""
    import uvicorn

    running = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(config)))
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a normal stop
        running.run(sockets=[sock])
    return running


def uvicorn_options(config: Config) -> dict:
    """uvicorn's options for ``config`` (the same in every worker process)."""
    from .api.http_edge import GuardedH11Protocol, GuardedWebSocketProtocol

    s = config.settings
    return dict(
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        log_config=None,  # ops.configure_logging's handlers
        access_log=False,  # graphsvc.access writes one line per request
        proxy_headers=config.proxy_headers,
        forwarded_allow_ips=config.forwarded_allow_ips,
        # Bounds on connections (README "Running in production").
        http=functools.partial(GuardedH11Protocol, request_timeout=s.timeout_request),
        # Drops a websocket client that stops reading (uvicorn's waits for ever).
        ws="auto" if GuardedWebSocketProtocol is None else GuardedWebSocketProtocol,
        timeout_keep_alive=s.timeout_keep_alive,
        limit_concurrency=s.limit_concurrency if s.limit_concurrency > 0 else None,
        ws_max_size=s.max_body_bytes,
        ws_ping_interval=s.ws_ping_interval if s.ws_ping_interval > 0 else None,
        ws_ping_timeout=s.ws_ping_timeout if s.ws_ping_timeout > 0 else None,
    )


def serve(config: Config, assets=None) -> int:
    """Run ``graphsvc serve`` with ``config`` until stopped; the exit status."""
    from .api import ops
    from .corpus import log_to_stderr

    mode = serve_mode(config)
    if mode == "store":
        if config.workers > 1:
            raise ServeError(
                "--workers is for folders; with a store run one replica per port "
                "(every replica follows the store)"
            )
    else:
        corpus_folder(config)
        auth_for(config, config.dir is not None)  # a missing token file fails here
    # Bound before the load and the banner: a port in use is the first thing said.
    sock = listen_socket(config, inheritable=config.workers > 1)
    config = _bound_port(config, sock)
    ops.configure_logging(config.settings.log_json, config.log_level)
    log_to_stderr(config.log_level)
    if config.workers > 1:
        return _serve_workers(config, mode, sock)
    server = build_server(config, assets=assets)
    server.start_loading()
    print(server.banner, file=sys.stderr, flush=True)
    if mode == "store":
        return _run_store(server, sock)
    try:
        running = _run(config, server.app, sock)
    finally:
        if server.display is not None:  # stopped while loading: the terminal as it was
            server.display.close()
        if mode == "live":
            server.corpus.close()  # stop following; write the snapshot if anything changed
    return 0 if running.started else 3


def _run_store(server: Server, sock) -> int:
    """Serve the store; start again in place (same process id and port) when the store
    went back under this replica, which loads it afresh."""
    import uvicorn

    live = server.corpus
    state = server.app.state.load_state
    running = uvicorn.Server(uvicorn.Config(server.app, **uvicorn_options(server.config)))
    restart: list = []

    def rewound(e) -> None:
        state.error = f"{e}; restarting"
        print(f"graphsvc: {e}; restarting to load it afresh", file=sys.stderr, flush=True)
        restart.append(e)
        running.should_exit = True

    live.source.on_rewound = rewound
    try:
        running.run(sockets=[sock])
    finally:
        sock.close()  # not inherited by the process started in place
        live.close()  # stop following; write the snapshot if versions came since
        live.source.feed.close()
    if restart:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, sys.orig_argv)
    return 0 if running.started else 3


# -- --workers ---------------------------------------------------------------------------
def worker_app(config: Config, mode: str):
    """One of ``--workers`` processes (uvicorn's factory): the app of ``config``'s mode,
    loaded *before* it returns: the workers share one listening socket and a worker
    takes connections only once it serves, so no request lands on a worker still
    loading. A worker started again after a crash loads the same way while the others
    go on answering."""
    from .api import ops

    ops.configure_logging(config.settings.log_json, config.log_level)
    server = build_server(config, worker=True, mode=mode)
    # In a thread as for a single server (same logging, metrics and gc.freeze), joined:
    # uvicorn's supervisor keeps pinging the worker meanwhile.
    server.start_loading().join()
    return server.app


def app_from_env():
    """An app configured from the environment, for ``uvicorn --factory`` (e.g. with
    ``--workers``): the folder, the settings and whether the workers are live come from
    the variables of :mod:`graphsvc.config` (``docs/configuration.md``)."""
    try:
        config = Config.from_env()
    except SettingError as e:  # one line and exit 2, as the command line says it
        print(f"graphsvc: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return worker_app(config, "live" if config.dir and config.live else "static")


def _serve_workers(config: Config, mode: str, sock) -> int:
    """Load in a short-lived child, so that the supervising process does not keep a copy
    of the graph's memory while the workers run; then run the workers, each reading the
    snapshot the child wrote."""
    import multiprocessing as mp

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .loading import preload, preload_shared

    folder = corpus_folder(config)
    target = preload_shared if mode == "live" else preload
    child = mp.get_context("fork").Process(target=target, args=(folder, config))
    child.start()
    child.join()
    if child.exitcode != 0:
        print("graphsvc: loading the corpus failed", file=sys.stderr)
        return 1
    print(_banner(config, mode, folder), file=sys.stderr, flush=True)
    worker = dataclasses.replace(config, dir=str(folder.resolve()) if config.dir else None)
    uv = uvicorn.Config(
        functools.partial(worker_app, worker, mode),
        factory=True,
        workers=config.workers,
        **uvicorn_options(config),
    )
    try:
        older: dict[str, Any] = {}
        if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.49
            older["target"] = uvicorn.Server(uv).run
        Multiprocess(uv, sockets=[sock], **older).run()
    except KeyboardInterrupt:
        pass
    return 0
