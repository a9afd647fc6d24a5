"""Command line: ``graphsvc serve|validate|generate|schema|export|import|store|...``.

The options of every command come from the settings table (:mod:`graphsvc.config`);
the commands themselves are in :mod:`.commands` (folders) and :mod:`.store` (the
PostgreSQL store).
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..config import add_arguments
from . import commands, store


def _serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="serve a corpus folder over GraphQL")
    s.add_argument("dir", nargs="?", help="corpus folder (default: the seed articles)")
    add_arguments(s, "serve")
    s.set_defaults(func=commands.cmd_serve)


def _folder_parsers(sub) -> None:
    v = sub.add_parser("validate", help="report every problem in a corpus folder; exit 1 on errors")
    v.add_argument("dir")
    add_arguments(v, "validate")
    v.set_defaults(func=commands.cmd_validate)

    gen = sub.add_parser("generate", help="write a synthetic corpus (for benchmarks and tests)")
    gen.add_argument("--articles", type=int, required=True, help="how many article files")
    gen.add_argument("--out", required=True, help="a new or empty folder")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    gen.set_defaults(func=commands.cmd_generate)

    sc = sub.add_parser("schema", help="print the GraphQL schema (SDL)")
    sc.set_defaults(func=commands.cmd_schema)

    cd = sub.add_parser("config-docs", help="print docs/configuration.md (every setting)")
    cd.set_defaults(func=commands.cmd_config_docs)

    ga = sub.add_parser(
        "graphiql-assets",
        help="print the npm packages GraphiQL loads (with DIR: the npm command that installs them)",
    )
    ga.add_argument("dir", nargs="?", help="folder for `serve --graphiql-assets`")
    ga.set_defaults(func=commands.cmd_graphiql_assets)

    e = sub.add_parser("export", help="write the graph as files that load back into the same graph")
    e.add_argument("dir", help="folder to write (created; must be empty)")
    e.add_argument("--format", choices=["frontmatter"], default="frontmatter")
    e.add_argument(
        "--from", dest="source", metavar="CORPUS", help="corpus folder (default: the seed articles)"
    )
    add_arguments(e, "export")
    e.set_defaults(func=commands.cmd_export)


def _store_parsers(sub) -> None:
    im = sub.add_parser(
        "import",
        help="make a PostgreSQL store hold a folder's files (validated as `validate` does)",
    )
    im.add_argument("dir", help="corpus folder")
    im.add_argument(
        "--watch",
        action="store_true",
        help="then keep following the folder into the store, as its single writer",
    )
    add_arguments(im, "import")
    im.set_defaults(func=store.cmd_import)

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
    add_arguments(pr, "store prune")
    pr.set_defaults(func=store.cmd_store_prune)


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    p = argparse.ArgumentParser(prog="graphsvc", description=__doc__.split("\n")[0])
    p.add_argument("--version", action="version", version=f"graphsvc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _folder_parsers(sub)
    _store_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the process's arguments); its exit status."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except NotADirectoryError as e:
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
