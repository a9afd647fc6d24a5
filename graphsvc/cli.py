"""Command line: ``graphsvc serve|validate|schema``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import __version__


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


def default_corpus() -> Path:
    """The seed articles: shipped inside the package, or the repo's ``seeds/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_seeds", here.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise SystemExit("graphsvc: no default corpus found; give a folder: graphsvc serve DIR")


def load_graph(folder: Path, quiet: bool = False, cache: bool = True):
    """Load ``folder``'s graph with a progress bar and a summary line on a terminal.

    The summary goes to stderr always unless ``quiet``, which keeps it for terminals.
    """
    from .startup import load_graph as load

    tty = sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        advance = [lambda n: None]

        def on_files(n: int) -> None:
            if tty and n >= 200:
                advance[0] = stack.enter_context(_progress("loading", n))

        loaded = load(folder, cache=cache, on_files=on_files, progress=lambda n: advance[0](n))
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
        if loaded.note and "no snapshot yet" not in loaded.note:
            print(f"graphsvc: snapshot not used: {loaded.note}", file=sys.stderr)
    return lg


def _preload(folder: Path, cache: bool = True):
    lg = load_graph(folder, cache=cache)
    if lg.stats().load_errors:
        print(
            f"graphsvc: {lg.stats().load_errors} load errors; see `graphsvc validate {folder}`",
            file=sys.stderr,
        )
    sys.stderr.flush()
    return lg


def cmd_serve(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    folder = Path(args.dir) if args.dir else default_corpus()
    if args.workers > 1:
        # Load (and write the snapshot) in a short-lived child, so that the supervising
        # process does not keep a copy of the graph's memory while the workers run.
        import multiprocessing as mp

        child = mp.get_context("fork").Process(target=_preload, args=(folder, not args.no_cache))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("graphsvc: loading the corpus failed", file=sys.stderr)
            return 1
        lg = None
    else:
        lg = _preload(folder, cache=not args.no_cache)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"graphsvc: serving {folder} - GraphiQL at http://{host}:{args.port}/graphql"
        + (f" ({args.workers} worker processes)" if args.workers > 1 else ""),
        file=sys.stderr,
        flush=True,
    )
    if args.workers > 1:
        # Each worker is a new process that builds its own app, reading the graph from
        # the snapshot this process just wrote (or the files, with --no-cache).
        from .api.app import CORPUS_ENV, NO_CACHE_ENV

        os.environ[CORPUS_ENV] = str(folder.resolve())
        os.environ[NO_CACHE_ENV] = "1" if args.no_cache else ""
        uvicorn.run(
            "graphsvc.api.app:app_from_env",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
        )
        return 0
    from .api.app import create_app
    from .graph.store import GraphStore

    app = create_app(GraphStore(lg))
    gc.freeze()  # the graph lives on: keep the collector from walking it again and again
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    lg = load_graph(Path(args.dir), quiet=True, cache=not args.no_cache)
    from .api.types import load_report

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
        "--workers",
        type=int,
        default=1,
        help="server processes; each holds its own copy of the graph (default 1)",
    )
    s.add_argument("--no-cache", action="store_true", help="ignore and do not write snapshots")
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
