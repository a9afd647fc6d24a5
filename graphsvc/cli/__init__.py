"""Command line: ``graphsvc serve|validate|generate|schema|export|import|store|...``.

The options of every command come from the settings table (:mod:`graphsvc.config`);
the commands themselves are in :mod:`.commands` (folders) and :mod:`.store` (the
PostgreSQL store). Both import what a command needs inside the command, so that
``--version``, ``--help`` and ``validate`` start without the server's libraries.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .. import __version__
from ..config import SettingError, add_arguments, corpus_folder_arg
from . import commands, store

DESCRIPTION = "graphsvc: a GraphQL link-graph service for news articles."
EPILOG = "`graphsvc COMMAND --help` shows a command's options."


class Parser(argparse.ArgumentParser):
    """argparse's parser, with a mistake reported as one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


class _CommandsFormatter(argparse.HelpFormatter):
    """The commands' list with every command on one line: argparse measures the column
    of the help without the commands' own indent, so a long name was wrapped."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max(len(name) for name in action.choices)
            self._action_max_length = max(
                self._action_max_length, longest + self._current_indent + 2 * self._indent_increment
            )


def _command(sub, name: str, help: str, description: str | None = None) -> Parser:
    """A subcommand: ``help`` is its line in ``graphsvc --help`` (kept short: one line);
    ``description`` its own ``--help``'s first paragraph."""
    return sub.add_parser(name, help=help, description=description or help)


def _serve_parser(sub) -> None:
    s = _command(sub, "serve", "serve a corpus folder over GraphQL")
    s.add_argument(
        "dir",
        nargs="?",
        type=corpus_folder_arg,
        help="corpus folder (default: the seed articles)",
    )
    add_arguments(s, "serve")
    s.set_defaults(func=commands.cmd_serve)


def _folder_parsers(sub) -> None:
    v = _command(
        sub,
        "validate",
        "check a corpus folder; exit 1 on errors",
        "report every problem in a corpus folder's files; exit status 1 when there are errors",
    )
    v.add_argument("dir", type=corpus_folder_arg, help="corpus folder")
    add_arguments(v, "validate")
    v.set_defaults(func=commands.cmd_validate)

    gen = _command(
        sub, "generate", "write a synthetic corpus (benchmarks, tests)", "write a synthetic corpus"
    )
    gen.add_argument(
        "--articles", type=int, required=True, metavar="N", help="how many article files (required)"
    )
    gen.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder (required)")
    gen.add_argument(
        "--seed", type=int, default=0, metavar="N", help="same seed, same files (default: 0)"
    )
    gen.set_defaults(func=commands.cmd_generate)

    sc = _command(sub, "schema", "print the GraphQL schema (SDL)")
    sc.set_defaults(func=commands.cmd_schema)

    cd = _command(sub, "config-docs", "print docs/configuration.md (every setting)")
    cd.set_defaults(func=commands.cmd_config_docs)

    ga = _command(
        sub,
        "graphiql-assets",
        "print the npm packages GraphiQL loads",
        "print the npm packages GraphiQL loads (with DIR: the npm command that installs them)",
    )
    ga.add_argument("dir", nargs="?", help="folder for `serve --graphiql-assets` (default: none)")
    ga.set_defaults(func=commands.cmd_graphiql_assets)

    e = _command(
        sub,
        "export",
        "write the graph out as article files",
        "write the graph as files that load back into the same graph",
    )
    e.add_argument("dir", help="folder to write (created; must be empty)")
    e.add_argument(
        "--format",
        choices=["frontmatter"],
        default="frontmatter",
        help="file format: Markdown with YAML front matter (default: frontmatter)",
    )
    e.add_argument(
        "--from",
        dest="source",
        metavar="CORPUS",
        type=corpus_folder_arg,
        help="corpus folder (default: the seed articles)",
    )
    add_arguments(e, "export")
    e.set_defaults(func=commands.cmd_export)


def _store_parsers(sub) -> None:
    im = _command(
        sub,
        "import",
        "load a folder's files into a PostgreSQL store",
        "make a PostgreSQL store hold a folder's files (validated as `validate` does)",
    )
    im.add_argument("dir", type=corpus_folder_arg, help="corpus folder")
    im.add_argument(
        "--watch",
        action="store_true",
        help="then keep following the folder into the store, as its single writer",
    )
    add_arguments(im, "import")
    im.set_defaults(func=store.cmd_import)

    st = _command(sub, "store", "look after a PostgreSQL store (store prune)")
    st_sub = st.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    pr = _command(
        st_sub,
        "prune",
        "delete the change log's old history",
        "delete the change log's history, keeping the newest versions (replicas whose "
        "snapshot is older then load the store whole)",
    )
    pr.add_argument(
        "--keep", type=int, required=True, metavar="N", help="keep the newest N versions (required)"
    )
    pr.add_argument(
        "--min-age",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="and every version committed less than this long ago (default: 3600; replicas "
        "restarting or briefly cut off replay the log, they do not reload)",
    )
    add_arguments(pr, "store prune")
    pr.set_defaults(func=store.cmd_store_prune)


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    p = Parser(
        prog="graphsvc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_CommandsFormatter,
    )
    p.add_argument("--version", action="version", version=f"graphsvc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    _serve_parser(sub)
    _folder_parsers(sub)
    _store_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the process's arguments); its exit status."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (NotADirectoryError, SettingError) as e:  # e.g. a bad variable
        print(f"graphsvc: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
