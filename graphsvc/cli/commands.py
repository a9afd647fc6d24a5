"""The commands on corpus folders: ``serve``, ``validate``, ``generate``, ``schema``,
``config-docs``, ``graphiql-assets`` and ``export``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..config import Config
from ..loading import load_static_graph, print_report, progress_bar


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server import ServeError, serve

    config = Config.from_args(args)
    assets = None
    if config.graphiql_assets:  # checked before the corpus loads: a wrong folder fails fast
        from ..api.graphiql import AssetsError, LocalAssets

        try:
            assets = LocalAssets(config.graphiql_assets)
        except AssetsError as e:
            print(f"graphsvc: {e}", file=sys.stderr)
            return 2
        print(f"graphsvc: GraphiQL assets from {config.graphiql_assets}", file=sys.stderr)
    # A folder argument wins over the store's variable; with --store it is a mistake.
    if args.store and args.dir:
        print("graphsvc: give a corpus folder or --store, not both", file=sys.stderr)
        return 2
    from .store import store_errors

    def run(_args: argparse.Namespace) -> int:
        try:
            return serve(config, assets)
        except ServeError as e:
            print(f"graphsvc: {e}", file=sys.stderr)
            return 2

    return store_errors(run)(args)


def cmd_validate(args: argparse.Namespace) -> int:
    lg = load_static_graph(Path(args.dir), Config.from_args(args), quiet=True)
    return print_report(lg)


def cmd_schema(args: argparse.Namespace) -> int:
    from ..api.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def cmd_config_docs(args: argparse.Namespace) -> int:
    from ..config import markdown

    sys.stdout.write(markdown())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    config = Config.from_args(args)
    if config.store and (args.store or not args.source):
        from .store import export_store

        return export_store(args)
    from ..files import load_corpus
    from ..frontmatter_export import export_frontmatter
    from ..startup import default_corpus

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


def cmd_generate(args: argparse.Namespace) -> int:
    from ..generate import write_corpus

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"graphsvc: {out} is not empty; give a new folder", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with progress_bar("generating", args.articles) as advance:
        size = write_corpus(out, args.articles, args.seed, progress=advance)
    print(
        f"graphsvc: wrote {args.articles} articles ({size / 1e6:.1f} MB) to {out} "
        f"in {time.perf_counter() - t0:.2f}s (seed {args.seed})",
        file=sys.stderr,
    )
    return 0


def cmd_graphiql_assets(args: argparse.Namespace) -> int:
    from ..api.graphiql import npm_command, npm_packages

    print(npm_command(args.dir) if args.dir else " ".join(npm_packages()))
    return 0
