"""Command line: ``graphsvc serve|validate|schema|export``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import __version__
from .api.settings import add_arguments


@contextlib.contextmanager
def _progress(what: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; yields ``advance(n)``."""
    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(f"graphsvc: {what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


from .startup import default_corpus  # noqa: E402 - re-exported for callers


def load_graph(folder: Path, quiet: bool = False, cache: bool = True):
    """Load ``folder``'s static graph with a progress bar and a summary line on a terminal.

    The summary goes to stderr always unless ``quiet``, which keeps it for terminals.
    """
    return load_corpus_object(folder, quiet=quiet, cache=cache, live=False).graph


def load_corpus_object(
    folder: Path, quiet: bool = False, cache: bool = True, corpus=None, live: bool = True
):
    """Load a corpus object (``corpus``, or a new one) with the progress bar and summary."""
    from .live import LiveCorpus

    if corpus is None:
        corpus = LiveCorpus(folder, load=False, cache=cache, keep_state=live)
    tty = sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        advance = [lambda n: None]

        def on_files(n: int) -> None:
            if tty and n >= 200:
                advance[0] = stack.enter_context(_progress("loading", n))

        loaded = corpus.load(on_files=on_files, progress=lambda n: advance[0](n))
    lg = loaded.graph
    s = lg.stats()
    if not quiet or tty:
        how = "from snapshot" if loaded.source == "snapshot" else "from files"
        print(
            f"graphsvc: {s.files} files, {s.articles} articles ({s.documents} with files, "
            f"{s.stubs} stubs), {s.providers} providers, {s.topics} topics, "
            f"{s.related_edges} related links, {s.load_errors} errors, "
            f"{s.load_warnings} warnings in {loaded.seconds:.2f}s ({how})",
            file=sys.stderr,
        )
        if loaded.reread:
            print(
                f"graphsvc: {loaded.reread} files changed since the snapshot, applied",
                file=sys.stderr,
            )
        if loaded.note and "no snapshot yet" not in loaded.note:
            print(f"graphsvc: snapshot not used: {loaded.note}", file=sys.stderr)
    return corpus


def describe(lg, seconds: float) -> None:
    s = lg.stats()
    print(
        f"graphsvc: {s.files} files, {s.articles} articles ({s.documents} with files, "
        f"{s.stubs} stubs), {s.providers} providers, {s.topics} topics, "
        f"{s.related_edges} related links, {s.load_errors} errors, "
        f"{s.load_warnings} warnings in {seconds:.2f}s",
        file=sys.stderr,
    )


def _preload(folder: Path, cache: bool = True, corpus=None, live: bool = False):
    corpus = load_corpus_object(folder, cache=cache, corpus=corpus, live=live)
    lg = corpus.graph
    if lg.stats().load_errors:
        print(
            f"graphsvc: {lg.stats().load_errors} load errors; see `graphsvc validate {folder}`",
            file=sys.stderr,
        )
    sys.stderr.flush()
    return lg


def _load_for_workers(preload, folder: Path, args: argparse.Namespace) -> bool:
    """Load (and write the snapshot) in a short-lived child, so that the supervising
    process does not keep a copy of the graph's memory while the workers run; each
    worker then reads the snapshot. Tells the workers where the corpus is."""
    import multiprocessing as mp

    from .api import ops

    child = mp.get_context("fork").Process(target=preload, args=(folder, not args.no_cache))
    child.start()
    child.join()
    if child.exitcode != 0:
        print("graphsvc: loading the corpus failed", file=sys.stderr)
        return False
    os.environ[ops.CORPUS_ENV] = str(folder.resolve())
    os.environ[ops.NO_CACHE_ENV] = "1" if args.no_cache else ""
    return True


def _uvicorn_options(args: argparse.Namespace) -> dict:
    from .api.protocol import REQUEST_TIMEOUT_ENV, GuardedH11Protocol, GuardedWebSocketProtocol
    from .api.settings import Settings

    s = Settings.from_args(args)
    # The protocol reads it in every worker process.
    os.environ[REQUEST_TIMEOUT_ENV] = str(s.timeout_request)
    return dict(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # ops.configure_logging's handlers
        access_log=False,  # graphsvc.access writes one line per request
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        # Bounds on connections (README "Running in production").
        http=GuardedH11Protocol,
        # Drops a websocket client that stops reading (uvicorn's waits for ever).
        ws=GuardedWebSocketProtocol or "auto",
        timeout_keep_alive=s.timeout_keep_alive,
        limit_concurrency=s.limit_concurrency if s.limit_concurrency > 0 else None,
        ws_max_size=s.max_body_bytes,
        ws_ping_interval=s.ws_ping_interval if s.ws_ping_interval > 0 else None,
        ws_ping_timeout=s.ws_ping_timeout if s.ws_ping_timeout > 0 else None,
    )


def _serve_static(args: argparse.Namespace, folder: Path, settings, assets=None) -> int:
    """Serve a graph that does not change (``--no-watch`` and read-only, or ``--workers``):
    loaded from its snapshot when current, in the background, one or more workers."""

    import uvicorn

    from .api import ops
    from .api.app import create_app
    from .graph.store import GraphStore

    host = f"[{args.host}]" if ":" in args.host else args.host
    run = _uvicorn_options(args)
    if args.workers > 1:
        if not _load_for_workers(_preload, folder, args):
            return 1
        os.environ[ops.LIVE_ENV] = ""
        print(
            f"graphsvc: serving {folder} (read-only, {args.workers} worker processes) - "
            f"GraphiQL at http://{host}:{args.port}/graphql",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.run("graphsvc.api.worker:app_from_env", factory=True, workers=args.workers, **run)
        return 0
    from .live import LiveCorpus

    store = GraphStore()
    corpus = LiveCorpus(folder, store=store, load=False, cache=not args.no_cache, keep_state=False)
    app = create_app(store, settings, assets=assets)

    def load():
        _preload(folder, cache=not args.no_cache, corpus=corpus)

    ops.load_in_background(store, load, app.state.load_state)
    print(
        f"graphsvc: serving {folder} (read-only, not following changes) - "
        f"GraphiQL at http://{host}:{args.port}/graphql",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, **run)
    return 0


def _preload_shared(folder: Path, cache: bool) -> None:
    """The supervisor's child: load (writing the snapshot workers start from) and start
    the shared version journal at the loaded version."""
    from .live import Journal
    from .snapshot import snapshot_path

    corpus = load_corpus_object(folder, cache=cache, live=True)
    corpus.close()
    Journal(snapshot_path(corpus.root)).reset(corpus.graph.version)


def _serve_workers(args: argparse.Namespace, folder: Path) -> int:
    """``--workers N`` in default mode: every worker follows the folder and accepts
    writes; versions are shared through a journal under a file lock (live.Journal)."""
    import uvicorn

    from .api import ops

    if not _load_for_workers(_preload_shared, folder, args):
        return 1
    os.environ[ops.LIVE_ENV] = "1"
    os.environ[ops.WATCH_ENV] = "0" if args.no_watch else "1"
    os.environ["GRAPHSVC_TOKEN_FILE"] = args.token_file or ""
    os.environ["GRAPHSVC_READ_TOKEN_REQUIRED"] = "1" if args.read_token else ""
    os.environ["GRAPHSVC_READ_TOKEN_FILE"] = args.read_token_file or ""
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"graphsvc: serving {folder} ({args.workers} worker processes, each following "
        f"changes and accepting writes, versions shared) - "
        f"GraphiQL at http://{host}:{args.port}/graphql",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "graphsvc.api.worker:app_from_env",
        factory=True,
        workers=args.workers,
        **_uvicorn_options(args),
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api import ops
    from .api.app import create_app
    from .api.auth import auth_from_options
    from .api.settings import Settings
    from .graph.store import GraphStore
    from .live import LiveCorpus, log_to_stderr

    assets = None
    if args.graphiql_assets:  # checked before the corpus loads: a wrong folder fails fast
        from .api.graphiql import AssetsError, LocalAssets

        try:
            assets = LocalAssets(args.graphiql_assets)
        except AssetsError as e:
            print(f"graphsvc: {e}", file=sys.stderr)
            return 2
        print(f"graphsvc: GraphiQL assets from {args.graphiql_assets}", file=sys.stderr)
    # A folder argument wins over $GRAPHSVC_STORE; with --store it is a mistake.
    if args.store or (os.environ.get("GRAPHSVC_STORE") and not args.dir):
        if args.dir:
            print("graphsvc: give a corpus folder or --store, not both", file=sys.stderr)
            return 2
        if args.workers > 1:
            print(
                "graphsvc: --workers is for folders; with a store run one replica per port "
                "(every replica follows the store)",
                file=sys.stderr,
            )
            return 2
        auth = auth_from_options(args.token_file, args.read_token, args.read_token_file)
        settings = Settings.from_args(args)
        ops.configure_logging(settings.log_json, args.log_level)
        log_to_stderr(args.log_level)
        return _store_errors(lambda a: _serve_store(a, settings, auth, assets))(args)
    folder = Path(args.dir) if args.dir else default_corpus()
    if not folder.is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    auth = auth_from_options(
        args.token_file, args.read_token, args.read_token_file, writable=args.dir is not None
    )
    settings = Settings.from_args(args)
    ops.configure_logging(settings.log_json, args.log_level)
    log_to_stderr(args.log_level)

    if args.no_watch and not auth.writable:
        return _serve_static(args, folder, settings, assets)
    if args.workers > 1:
        if args.dir is None:  # the seed articles: read-only
            return _serve_static(args, folder, settings, assets)
        return _serve_workers(args, folder)

    # Serve at once (/healthz alive, /readyz 503) and load the corpus meanwhile; follow
    # the folder once it is loaded.
    store = GraphStore()
    live = LiveCorpus(folder, store=store, load=False, cache=not args.no_cache, **_interval(args))
    app = create_app(store, settings, live=live, auth=auth, assets=assets)

    def load():
        _preload(folder, corpus=live, live=True)
        if not args.no_watch:
            live.start_watching()
        # None: the live corpus has put the graph in the store (and may have a newer one)

    ops.load_in_background(store, load, app.state.load_state)
    host = f"[{args.host}]" if ":" in args.host else args.host
    following = "not following changes (--no-watch)" if args.no_watch else "following changes"
    writes = "writes with the bearer token" if auth.writable else "read-only"
    reads = ", reads with a bearer token" if auth.reads_need_token else ""
    print(
        f"graphsvc: serving {folder} ({following}; {writes}{reads}) - "
        f"GraphiQL at http://{host}:{args.port}/graphql",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(app, **_uvicorn_options(args))
    finally:
        live.close()  # stop following; write the snapshot if anything changed
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    lg = load_graph(Path(args.dir), quiet=True, cache=not args.no_cache)
    return _print_report(lg)


def _print_report(lg) -> int:
    """What `graphsvc validate` prints; 1 when there are errors."""
    from .api.stats import load_report

    for issue in load_report(lg):
        print(issue)
    s = lg.stats()
    print(
        f"{s.files} files: {s.documents} articles with files, {s.stubs} stubs, "
        f"{s.load_errors} errors, {s.load_warnings} warnings"
    )
    return 1 if s.load_errors else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .api.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.store or (os.environ.get("GRAPHSVC_STORE") and not args.source):
        return _export_store(args)
    from .export import export_frontmatter
    from .ingest import load_corpus

    source = Path(args.source) if args.source else default_corpus()
    corpus = load_corpus(source)
    try:
        report = export_frontmatter(corpus, args.dir)
    except FileExistsError as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2
    for path in report.mismatches:
        print(f"graphsvc: warning: {path} does not read back exactly as loaded", file=sys.stderr)
    for why in report.refused:
        print(f"graphsvc: error: not written: {why}", file=sys.stderr)
    print(
        f"graphsvc: wrote {report.files} files to {args.dir} "
        f"({report.skipped} of {corpus.files} files did not load and are not in the graph)",
        file=sys.stderr,
    )
    return 1 if report.mismatches or report.refused else 0


# -- the PostgreSQL store ---------------------------------------------------------------
def _store(args: argparse.Namespace):
    from .store import PgStore

    return PgStore.from_env(args.store, args.store_password_file)


def _add_store_arguments(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--store", metavar="URL", default=None, help=help)
    p.add_argument(
        "--store-password-file",
        metavar="FILE",
        default=None,
        help="file holding the store's password (default: $GRAPHSVC_STORE_PASSWORD_FILE, "
        "else PGPASSWORD, PGPASSFILE or ~/.pgpass; never put it in the URL on the command line)",
    )


def _store_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from .store import StoreError, StoreUnavailable

        try:
            return fn(args)
        except (StoreError, StoreUnavailable) as e:
            print(f"graphsvc: {e}", file=sys.stderr)
            return 2

    return run


@_store_errors
def cmd_import(args: argparse.Namespace) -> int:
    from .store.transfer import import_folder

    folder = Path(args.dir)
    if not folder.is_dir():
        raise NotADirectoryError(f"corpus folder not found: {folder}")
    pg = _store(args)
    # Validated exactly as `graphsvc validate` does, with the same report.
    status = _print_report(load_graph(folder, quiet=True, cache=not args.no_cache))
    t0 = time.perf_counter()
    with _progress("importing", None) as advance:
        report = import_folder(pg, folder, progress=advance)
    for issue in report.skipped:
        print(f"graphsvc: {issue}", file=sys.stderr)
    made = f"store version {report.version}" if report.version else "no new version"
    print(
        f"graphsvc: imported {folder} into {pg.where}: {report.written} files written, "
        f"{report.deleted} deleted, {report.unchanged} unchanged ({made}) "
        f"in {time.perf_counter() - t0:.2f}s",
        file=sys.stderr,
    )
    if args.watch:
        return _import_watch(pg, folder)
    return 1 if status or report.skipped else 0


def _import_watch(pg, folder: Path) -> int:
    """Follow ``folder`` into the store until interrupted: each burst of changes is one
    store transaction of the files it touched; after an outage, a full re-import."""
    from .ingest.watch import follow
    from .store import StoreUnavailable
    from .store.transfer import import_folder, import_paths

    print(f"graphsvc: following {folder} into {pg.where} (Ctrl-C stops)", file=sys.stderr)
    rescan = False
    for fresh, changes in follow(folder, threading.Event(), timeout_ms=1000):  # Ctrl-C ends it
        try:
            if rescan or fresh:  # a new watch, or after an outage: all that changed
                report = import_folder(pg, folder)
                rescan = False
            elif changes:
                rels = [os.path.relpath(p, folder) for _, p in changes]
                report = import_paths(pg, folder, rels)
            else:
                continue
        except StoreUnavailable as e:
            print(f"graphsvc: {e}; trying again", file=sys.stderr, flush=True)
            rescan = True
            continue
        for issue in report.skipped:
            print(f"graphsvc: {issue}", file=sys.stderr)
        if report.version:
            print(
                f"graphsvc: store version {report.version}: {report.written} files written, "
                f"{report.deleted} deleted",
                file=sys.stderr,
                flush=True,
            )
    return 0


@_store_errors
def _export_store(args: argparse.Namespace) -> int:
    from .store.transfer import export_files

    pg = _store(args)
    try:
        with _progress("exporting", None) as advance:
            report = export_files(pg, args.dir, progress=advance)
    except (FileExistsError, ValueError) as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2
    print(
        f"graphsvc: wrote {report.files} files of {pg.where} (version {report.version}) "
        f"to {args.dir}",
        file=sys.stderr,
    )
    return 0


def _interval(args: argparse.Namespace) -> dict:
    if args.snapshot_interval is None:
        return {}
    return {"snapshot_interval": args.snapshot_interval}


def _load_store(live) -> None:
    """Bulk-read the store into ``live``, with a progress bar on a terminal."""
    tty = sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        advance = [lambda n: None]

        def on_total(n: int) -> None:
            if tty and n >= 200:
                advance[0] = stack.enter_context(_progress("loading", n))

        live.load(progress=lambda n: advance[0](n), on_total=on_total)


def _serve_store(args: argparse.Namespace, settings, auth, assets) -> int:
    """Serve the store's graph, following its change log; writes go to the store."""
    import uvicorn

    from .api import ops
    from .api.app import create_app
    from .graph.store import GraphStore
    from .store import StoreError, StoreUnavailable
    from .store.corpus import StoreCorpus
    from .store.metrics import register

    pg = _store(args)
    try:
        pg.migrate()  # a store newer than this code is refused here, before serving
    except StoreError as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2
    except StoreUnavailable as e:  # serve anyway (503 at /readyz) and keep trying
        print(f"graphsvc: {e}; retrying in the background", file=sys.stderr)
    store = GraphStore()
    write_timeout = args.store_write_timeout
    if settings.time_limit > 0:  # a write answers within its operation's time limit
        write_timeout = min(write_timeout, settings.time_limit / 2)
    live = StoreCorpus(
        pg, store=store, cache=not args.no_cache, write_timeout=write_timeout, **_interval(args)
    )
    app = create_app(store, settings, live=live, auth=auth, assets=assets)
    register(live.source, ops.REGISTRY)
    state = app.state.load_state
    state.details = lambda: {"store": live.source.status().report(), **live.start_report()}
    state.check = live.source.check  # /readyz: says so while the store does not answer
    server = uvicorn.Server(uvicorn.Config(app, **_uvicorn_options(args)))
    restart: list = []

    def rewound(e) -> None:
        """The store went back under this replica: stop, then start again in place
        (same process id and port), which loads the store afresh."""
        state.error = f"{e}; restarting"
        print(f"graphsvc: {e}; restarting to load it afresh", file=sys.stderr, flush=True)
        restart.append(e)
        server.should_exit = True

    live.on_rewound = rewound

    def load():
        delay = 0.5
        while True:
            try:
                pg.migrate()
                t0 = time.perf_counter()
                _load_store(live)
                break
            except StoreUnavailable as e:
                print(f"graphsvc: {e}; retrying in {delay:g} s", file=sys.stderr, flush=True)
                time.sleep(delay)
                delay = min(delay * 2, 10)
        lg = store.current
        describe(lg, time.perf_counter() - t0)
        done = live.loaded
        how = (
            f"its snapshot and {done.reread} versions of the log"
            if done.source == "snapshot+log"
            else "a full read of the store" + (f" ({done.note})" if done.note else "")
        )
        print(f"graphsvc: version {lg.version} from {how}", file=sys.stderr, flush=True)
        live.start_watching()

    ops.load_in_background(store, load, app.state.load_state)
    host = f"[{args.host}]" if ":" in args.host else args.host
    writes = "writes with the bearer token" if auth.writable else "read-only"
    print(
        f"graphsvc: serving the store {pg.where} (following its change log; {writes}) - "
        f"GraphiQL at http://{host}:{args.port}/graphql",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run()
    finally:
        live.close()  # stop following; write the snapshot if versions came since
        live.source.close()
    if restart:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, sys.orig_argv)
    return 0 if server.started else 3


@_store_errors
def cmd_store_prune(args: argparse.Namespace) -> int:
    pg = _store(args)
    pg.migrate()
    done = pg.prune(args.keep, args.min_age)
    print(
        f"graphsvc: store version {done.head}: the log holds every version after "
        f"{done.horizon}; {done.deleted} rows deleted, {done.kept_current} older rows kept "
        "(they hold files' current content)",
        file=sys.stderr,
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import write_corpus

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"graphsvc: {out} is not empty; give a new folder", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with _progress("generating", args.articles) as advance:
        size = write_corpus(out, args.articles, args.seed, progress=advance)
    print(
        f"graphsvc: wrote {args.articles} articles ({size / 1e6:.1f} MB) to {out} "
        f"in {time.perf_counter() - t0:.2f}s (seed {args.seed})",
        file=sys.stderr,
    )
    return 0


def cmd_graphiql_assets(args: argparse.Namespace) -> int:
    from .api.graphiql import npm_command, npm_packages

    print(npm_command(args.dir) if args.dir else " ".join(npm_packages()))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphsvc", description=__doc__)
    p.add_argument("--version", action="version", version=f"graphsvc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve a corpus folder over GraphQL")
    s.add_argument("dir", nargs="?", help="corpus folder (default: the seed articles)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    s.add_argument(
        "--no-watch", action="store_true", help="do not follow changes to the folder's files"
    )
    s.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding the bearer token writes need (default: $GRAPHSVC_TOKEN; "
        "without either the server is read-only)",
    )
    s.add_argument(
        "--read-token",
        action="store_true",
        help="reads need a bearer token too: $GRAPHSVC_READ_TOKEN, --read-token-file, "
        "or the write token",
    )
    s.add_argument("--read-token-file", metavar="FILE", help="file holding the read token")
    s.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips (default on)",
    )
    s.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxy addresses to trust (default: uvicorn's, 127.0.0.1 or $FORWARDED_ALLOW_IPS)",
    )
    add_arguments(s)
    s.add_argument(
        "--graphiql-assets",
        metavar="DIR",
        default=os.environ.get("GRAPHSVC_GRAPHIQL_ASSETS") or None,
        help="serve GraphiQL's scripts from DIR, not unpkg.com (default: "
        "$GRAPHSVC_GRAPHIQL_ASSETS; fill DIR with the command `graphsvc graphiql-assets DIR` "
        "prints)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes; each holds its own copy of the graph (default 1)",
    )
    s.add_argument("--no-cache", action="store_true", help="ignore and do not write snapshots")
    s.add_argument(
        "--snapshot-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="while changes arrive, write the snapshot again at most this often "
        "(default 300; also at shutdown)",
    )
    _add_store_arguments(
        s,
        "serve the articles of this PostgreSQL store instead of a folder (default: "
        "$GRAPHSVC_STORE); writes go to the store",
    )
    s.add_argument(
        "--store-write-timeout",
        type=float,
        default=float(os.environ.get("GRAPHSVC_STORE_WRITE_TIMEOUT") or 5),
        metavar="SECONDS",
        help="a write to the store, and the wait to show it, ends within this (default 5, "
        "$GRAPHSVC_STORE_WRITE_TIMEOUT; at most half of --time-limit)",
    )
    s.set_defaults(func=cmd_serve)

    v = sub.add_parser("validate", help="report every problem in a corpus folder; exit 1 on errors")
    v.add_argument("dir")
    v.add_argument("--no-cache", action="store_true", help="ignore and do not write snapshots")
    v.set_defaults(func=cmd_validate)

    gen = sub.add_parser("generate", help="write a synthetic corpus (for benchmarks and tests)")
    gen.add_argument("--articles", type=int, required=True, help="how many article files")
    gen.add_argument("--out", required=True, help="a new or empty folder")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    gen.set_defaults(func=cmd_generate)

    sc = sub.add_parser("schema", help="print the GraphQL schema (SDL)")
    sc.set_defaults(func=cmd_schema)

    ga = sub.add_parser(
        "graphiql-assets",
        help="print the npm packages GraphiQL loads (with DIR: the npm command that installs them)",
    )
    ga.add_argument("dir", nargs="?", help="folder for `serve --graphiql-assets`")
    ga.set_defaults(func=cmd_graphiql_assets)

    e = sub.add_parser("export", help="write the graph as files that load back into the same graph")
    e.add_argument("dir", help="folder to write (created; must be empty)")
    e.add_argument("--format", choices=["frontmatter"], default="frontmatter")
    e.add_argument(
        "--from", dest="source", metavar="CORPUS", help="corpus folder (default: the seed articles)"
    )
    _add_store_arguments(e, "export this PostgreSQL store's files (default: $GRAPHSVC_STORE)")
    e.set_defaults(func=cmd_export)

    im = sub.add_parser(
        "import",
        help="make a PostgreSQL store hold a folder's files (validated as `validate` does)",
    )
    im.add_argument("dir", help="corpus folder")
    im.add_argument("--no-cache", action="store_true", help="ignore and do not write snapshots")
    im.add_argument(
        "--watch",
        action="store_true",
        help="then keep following the folder into the store, as its single writer",
    )
    _add_store_arguments(im, "the PostgreSQL store (default: $GRAPHSVC_STORE)")
    im.set_defaults(func=cmd_import)

    st = sub.add_parser("store", help="look after a PostgreSQL store")
    st_sub = st.add_subparsers(dest="store_command", required=True)
    pr = st_sub.add_parser(
        "prune",
        help="delete the change log's history, keeping the newest versions (replicas whose "
        "snapshot is older then load the store whole)",
    )
    pr.add_argument(
        "--keep", type=int, required=True, metavar="N", help="keep the newest N versions"
    )
    pr.add_argument(
        "--min-age",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="and every version committed less than this long ago (default 3600: replicas "
        "restarting or briefly cut off replay the log, they do not reload)",
    )
    _add_store_arguments(pr, "the PostgreSQL store (default: $GRAPHSVC_STORE)")
    pr.set_defaults(func=cmd_store_prune)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except NotADirectoryError as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
