"""graphsvc's settings: one table, and the only reader of ``GRAPHSVC_*`` variables.

Every setting is one :class:`Setting` row of :data:`SETTINGS`: its name, its command-line
flag, its environment variable, its default, its type and its help. The commands'
``--help`` and ``docs/configuration.md`` (``graphsvc config-docs``) are generated from
the table; ``tests/docs/test_config.py`` fails when the page and the table differ.

Values come from the flag, else the variable, else the default. Two objects carry
them: :class:`Settings`, the limits the API enforces (handed to ``create_app``), and
:class:`Config`, everything ``graphsvc serve`` needs (``Settings`` included), handed to
:func:`graphsvc.server.build_server` and pickled to ``--workers`` processes. No other
module reads the environment; they are given their values.

>>> s = Settings.from_env({"GRAPHSVC_MAX_DEPTH": "7", "GRAPHSVC_CORS_ORIGINS": "https://a.example"})
>>> s.max_depth, s.cors_origins, s.introspection
(7, ('https://a.example',), True)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "GRAPHSVC_"


class SettingError(argparse.ArgumentTypeError, ValueError):
    """A value a setting cannot take; its message is one line for the user."""


def port_number(raw: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    try:
        n = int(str(raw).strip())
    except ValueError:
        raise SettingError(f"{raw!r} is not a port number (0-65535)") from None
    if not 0 <= n <= 65535:
        raise SettingError(f"port {n} is out of range (0-65535)")
    return n


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def log_level_name(raw: str) -> str:
    """One of :data:`LOG_LEVELS` (any case)."""
    level = str(raw).strip().lower()
    if level not in LOG_LEVELS:
        raise SettingError(f"{raw!r} is not a log level ({', '.join(LOG_LEVELS)})")
    return level


def positive_int(raw: str) -> int:
    """A whole number, 1 or more."""
    try:
        n = int(str(raw).strip())
    except ValueError:
        raise SettingError(f"{raw!r} is not a whole number") from None
    if n < 1:
        raise SettingError(f"{n} is less than 1")
    return n


def corpus_folder_arg(raw: str) -> str:
    """A folder of articles that exists and can be read (the commands' ``DIR``)."""
    path = Path(raw)
    if not path.exists():
        raise SettingError(f"{raw}: no such folder")
    if not path.is_dir():
        raise SettingError(
            f"{raw} is a file, not a folder; give the folder that holds the articles"
        )
    try:
        with os.scandir(path):
            pass
    except OSError as e:
        raise SettingError(f"{raw}: cannot read the folder ({e.strerror or e})") from None
    return raw


def _kind(t: Any) -> str:
    return {int: "a whole number", float: "a number"}.get(t, "a valid value")


@dataclass(frozen=True)
class Setting:
    """One row of :data:`SETTINGS`.

    ``flag`` is the command-line option (None: environment only); ``env`` the variable
    (None: flag only). ``action`` is argparse's (``store_true`` for ``--no-x`` switches
    of a boolean that defaults to True: the flag stores ``not default``). ``commands``
    are the subcommands that take the flag; ``target`` is ``"api"`` for a field of
    :class:`Settings`, ``"serve"`` for a field of :class:`Config`, ``"command"`` for an
    option of other commands only."""

    name: str
    default: Any
    help: str
    type: type = str
    flag: str | None = None
    env: str | None = None
    action: str | None = None
    metavar: str | None = None
    commands: tuple[str, ...] = ("serve",)
    target: str = "serve"
    #: Turns the flag's or the variable's string into the value (default: ``type``);
    #: raises :class:`SettingError` with a one-line message.
    parser: Callable[[str], Any] | None = None

    def convert(self, raw: str) -> Any:
        """The value of the string ``raw`` (a flag's): :class:`SettingError` when bad."""
        if self.parser is not None:
            return self.parser(raw)
        try:
            return self.type(raw)
        except (TypeError, ValueError):
            raise SettingError(f"{raw!r} is not {_kind(self.type)}") from None

    def parse(self, raw: str) -> Any:
        """The value of the environment string ``raw``."""
        if self.type is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if self.type is tuple:
            return tuple(x.strip() for x in raw.split(",") if x.strip())
        try:
            return self.convert(raw)
        except SettingError as e:
            raise SettingError(f"${self.env}: {e}") from None


def _api(name: str, default: Any, help: str, **kw: Any) -> Setting:
    """A limit the API enforces: flag ``--name``, variable ``GRAPHSVC_NAME``."""
    kw.setdefault("flag", "--" + name.replace("_", "-"))
    kw.setdefault("env", ENV_PREFIX + name.upper())
    return Setting(name, default, help, type=kw.pop("type", type(default)), target="api", **kw)


def _env_only(name: str, default: Any, help: str, **kw: Any) -> Setting:
    kw.setdefault("env", ENV_PREFIX + name.upper())
    return Setting(name, default, help, type=kw.pop("type", type(default)), target="api", **kw)


STORE_COMMANDS = ("serve", "export", "import", "store prune")

#: Every setting of graphsvc, in the order ``--help`` and the docs list them.
SETTINGS: tuple[Setting, ...] = (
    # -- serving -------------------------------------------------------------------------
    Setting("host", "127.0.0.1", "address to listen on", flag="--host"),
    Setting("port", 8000, "port to listen on", type=int, flag="--port", parser=port_number),
    Setting(
        "log_level",
        "info",
        "log level (debug, info, warning, error)",
        flag="--log-level",
        env="GRAPHSVC_LOG_LEVEL",
        metavar="LEVEL",
        parser=log_level_name,
    ),
    Setting(
        "watch",
        True,
        "do not follow changes to the folder's files",
        type=bool,
        flag="--no-watch",
        action="store_true",
    ),
    Setting(
        "workers",
        1,
        "server processes; each holds its own copy of the graph",
        type=int,
        flag="--workers",
        parser=positive_int,
    ),
    Setting(
        "cache",
        True,
        "ignore and do not write snapshots",
        type=bool,
        flag="--no-cache",
        action="store_true",
        commands=("serve", "validate", "import"),
    ),
    Setting(
        "cache_dir",
        None,
        "folder of the snapshots (default: $XDG_CACHE_HOME/graphsvc, else ~/.cache/graphsvc)",
        type=Path,
        env="GRAPHSVC_CACHE_DIR",
        commands=("serve", "validate", "import"),
    ),
    Setting(
        "snapshot_interval",
        None,
        "while changes arrive, write the snapshot again at most this often "
        "(default 300; also at shutdown)",
        type=float,
        flag="--snapshot-interval",
        metavar="SECONDS",
    ),
    # -- who may read and write ----------------------------------------------------------
    Setting(
        "token",
        None,
        "the bearer token writes need (or --token-file; without either the server is read-only)",
        env="GRAPHSVC_TOKEN",
    ),
    Setting(
        "token_file",
        None,
        "file holding the bearer token writes need (instead of $GRAPHSVC_TOKEN)",
        flag="--token-file",
        metavar="FILE",
    ),
    Setting(
        "reads_need_token",
        False,
        "reads need a bearer token too: $GRAPHSVC_READ_TOKEN, --read-token-file, "
        "or the write token",
        type=bool,
        flag="--read-token",
        action="store_true",
    ),
    Setting(
        "read_token",
        None,
        "the bearer token reads need with --read-token",
        env="GRAPHSVC_READ_TOKEN",
    ),
    Setting(
        "read_token_file",
        None,
        "file holding the read token",
        flag="--read-token-file",
        metavar="FILE",
    ),
    # -- behind a proxy, in a browser ----------------------------------------------------
    Setting(
        "proxy_headers",
        True,
        "trust X-Forwarded-For/-Proto from --forwarded-allow-ips",
        type=bool,
        flag="--proxy-headers",
        action="boolean_optional",
    ),
    Setting(
        "forwarded_allow_ips",
        None,
        "proxy addresses to trust (default: uvicorn's, 127.0.0.1 or $FORWARDED_ALLOW_IPS)",
        flag="--forwarded-allow-ips",
        metavar="ADDRESSES",
    ),
    Setting(
        "graphiql_assets",
        None,
        "serve GraphiQL's scripts from DIR, not unpkg.com (fill DIR with the command "
        "`graphsvc graphiql-assets DIR` prints)",
        flag="--graphiql-assets",
        env="GRAPHSVC_GRAPHIQL_ASSETS",
        metavar="DIR",
    ),
    # -- the PostgreSQL store ------------------------------------------------------------
    Setting(
        "store",
        None,
        "the PostgreSQL store (its URL): serve its articles instead of a folder, writes "
        "going to it; export its files; import a folder into it",
        flag="--store",
        env="GRAPHSVC_STORE",
        metavar="URL",
        commands=STORE_COMMANDS,
    ),
    Setting(
        "store_password_file",
        None,
        "file holding the store's password (else PGPASSWORD, PGPASSFILE or ~/.pgpass; "
        "never put it in the URL on the command line)",
        flag="--store-password-file",
        env="GRAPHSVC_STORE_PASSWORD_FILE",
        metavar="FILE",
        commands=STORE_COMMANDS,
    ),
    Setting(
        "store_write_timeout",
        5.0,
        "a write to the store, and the wait to show it, ends within this "
        "(at most half of --time-limit)",
        type=float,
        flag="--store-write-timeout",
        env="GRAPHSVC_STORE_WRITE_TIMEOUT",
        metavar="SECONDS",
    ),
    # -- workers started by uvicorn itself (`uvicorn --factory graphsvc.server:app_from_env`)
    Setting(
        "dir",
        None,
        "the corpus folder of app_from_env's workers (default: the seed articles)",
        env="GRAPHSVC_CORPUS",
        commands=("app_from_env",),
        target="factory",
    ),
    Setting(
        "live",
        False,
        "app_from_env's workers follow the folder and accept writes, versions shared",
        type=bool,
        env="GRAPHSVC_LIVE",
        commands=("app_from_env",),
        target="factory",
    ),
    # -- limits and production settings (fields of Settings) -----------------------------
    _api("max_depth", 10, "deepest selection nesting (introspection fields not counted)"),
    _api("max_tokens", 1000, "most lexical tokens in one query document"),
    _api("max_aliases", 50, "most aliased fields in one document"),
    _api("max_fields", 10_000, "field selections once fragments are expanded"),
    _api("max_cost", 10_000, "budget for the estimated cost of traversal fields per request"),
    _api("time_limit", 10.0, "seconds one GraphQL operation may run"),
    _api(
        "threads",
        0,
        "run operations in N worker threads (0: on the event loop; threads answer the "
        "time limit at once but cut throughput)",
    ),
    _api(
        "heavy_cost",
        1000,
        "with --threads 0: operations costing at least this run in a worker thread, "
        "cheaper ones on the event loop (0: all on the loop)",
    ),
    _api("heavy_threads", 2, "worker threads for such operations"),
    _api("timeout_keep_alive", 5.0, "seconds an idle kept-alive connection stays open"),
    _api(
        "timeout_request",
        10.0,
        "seconds a request may take to arrive, headers and body (0: no bound)",
    ),
    _api("limit_concurrency", 1000, "connections at once; requests past it get 503"),
    _api("ws_ping_interval", 20.0, "seconds between websocket pings"),
    _api("ws_ping_timeout", 20.0, "seconds to wait for a pong before closing"),
    _api(
        "ws_init_timeout",
        60.0,
        "seconds a websocket may stay open without connection_init (then closed with 4408)",
    ),
    _api("max_exports", 2, "/export downloads rendered at once; more get 503"),
    _api("max_body_bytes", 1_048_576, "largest request body in bytes; larger ones get 413"),
    _api("max_get_query", 8192, "longest GET query string in bytes; longer ones get 414"),
    _api(
        "introspection",
        True,
        "refuse introspection queries (__schema, __type)",
        flag="--no-introspection",
        action="store_true",
    ),
    _api("graphiql", True, "no GraphiQL page", flag="--no-graphiql", action="store_true"),
    _api(
        "cors_origins",
        (),
        "allow browser calls from ORIGIN (repeatable; the variable: comma-separated)",
        type=tuple,
        flag="--cors-origin",
        action="append",
        metavar="ORIGIN",
    ),
    _api("log_json", False, "one JSON object per log line", action="store_true"),
    _api(
        "gzip_min_bytes",
        1024,
        "responses at least this large are gzipped when the client accepts it (0: never)",
    ),
    _env_only(
        "document_cache_mb",
        32.0,
        "megabytes of parsed documents cached per process",
    ),
    _env_only(
        "persisted_queries_mb",
        16.0,
        "megabytes of persisted queries (APQ) kept per process (0: APQ off)",
    ),
    _env_only(
        "response_cache_mb",
        64.0,
        "megabytes of large query answers replayed per graph version (0: none)",
    ),
    _env_only("prepared", True, "answer repeated queries from prepared documents (0: never)"),
    _env_only("plans", True, "compile prepared documents (0: run them on graphql-core)"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The limits and production settings the API enforces (rows of :data:`SETTINGS`
    whose target is ``"api"``; their help is there)."""

    max_depth: int = 10
    max_tokens: int = 1000
    max_aliases: int = 50
    max_fields: int = 10_000
    max_cost: int = 10_000
    time_limit: float = 10.0
    threads: int = 0
    heavy_cost: int = 1000
    heavy_threads: int = 2
    timeout_keep_alive: float = 5.0
    timeout_request: float = 10.0
    limit_concurrency: int = 1000
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    ws_init_timeout: float = 60.0
    max_exports: int = 2
    max_body_bytes: int = 1_048_576
    max_get_query: int = 8192
    introspection: bool = True
    graphiql: bool = True
    cors_origins: tuple[str, ...] = ()
    log_json: bool = False
    gzip_min_bytes: int = 1024
    document_cache_mb: float = 32.0
    persisted_queries_mb: float = 16.0
    response_cache_mb: float = 64.0
    prepared: bool = True
    plans: bool = True
    #: Room for other features' settings without changing this class's signature.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The defaults, overridden by the environment's variables."""
        return cls(**_values("api", None, os.environ if env is None else env))

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from :func:`add_arguments`'s flags, else the environment."""
        return cls(**_values("api", args, os.environ if env is None else env))


def mib(megabytes: float) -> int:
    """``megabytes`` in bytes."""
    return int(megabytes * 1024 * 1024)


@dataclass(frozen=True)
class Config:
    """What ``graphsvc serve`` (and the other commands) run with: the folder and the
    rows of :data:`SETTINGS` whose target is ``"serve"``, and the API's :class:`Settings`.
    Picklable: ``--workers`` processes are given it."""

    dir: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    watch: bool = True
    workers: int = 1
    cache: bool = True
    cache_dir: Path | None = None
    snapshot_interval: float | None = None
    token: str | None = None
    token_file: str | None = None
    reads_need_token: bool = False
    read_token: str | None = None
    read_token_file: str | None = None
    proxy_headers: bool = True
    forwarded_allow_ips: str | None = None
    graphiql_assets: str | None = None
    store: str | None = None
    store_password_file: str | None = None
    store_write_timeout: float = 5.0
    #: ``app_from_env`` only: its workers are live (see :data:`SETTINGS`).
    live: bool = False
    settings: Settings = field(default_factory=Settings)

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Config:
        """The command line's values, else the environment's, else the defaults."""
        env = os.environ if env is None else env
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in _values("serve", args, env).items() if k in names}
        return cls(dir=getattr(args, "dir", None), settings=Settings.from_args(args, env), **values)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """The environment's values, else the defaults (no command line)."""
        env = os.environ if env is None else env
        return cls(
            settings=Settings.from_env(env),
            **_values("factory", None, env),
            **_values("serve", None, env),
        )

    def snapshots(self) -> Path:
        """The folder of the snapshots."""
        return self.cache_dir or default_cache_dir()


def _values(target: str, args: argparse.Namespace | None, env: Mapping[str, str]) -> dict:
    """The values of ``target``'s settings that the flags or the variables set."""
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.target != target:
            continue
        given = getattr(args, s.name, None) if args is not None and s.flag else None
        if given is not None:
            values[s.name] = tuple(given) if s.type is tuple else given
            continue
        raw = env.get(s.env) if s.env else None
        if raw is not None and raw.strip() != "":
            values[s.name] = s.parse(raw)
    return values


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where snapshots go unless told: ``$GRAPHSVC_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/graphsvc``, else ``~/.cache/graphsvc``."""
    env = os.environ if env is None else env
    if env.get("GRAPHSVC_CACHE_DIR"):
        return Path(env["GRAPHSVC_CACHE_DIR"])
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "graphsvc"


def dumb_terminal(env: Mapping[str, str] | None = None) -> bool:
    """``TERM=dumb``: no progress bars."""
    return (os.environ if env is None else env).get("TERM") == "dumb"


# -- the table as argparse options and as documentation ----------------------------------
def _default_value(s: Setting) -> str:
    """The default as the docs show it ("" for none)."""
    if s.default is None or s.default == ():
        return ""
    d = s.default
    if isinstance(d, bool):
        return "on" if d else "off"
    if isinstance(d, float):
        return f"{d:g}"
    return str(d)


def _default_text(s: Setting) -> str:
    """The default as ``--help`` shows it: ``default: X``; "" for a switch, or when the
    help already says what happens without the option."""
    if s.action == "store_true" or "(default" in s.help:
        return ""
    return f"default: {_default_value(s) or 'none'}"


def help_text(s: Setting) -> str:
    """The option's help: what it does, its default and its variable."""
    extra = [x for x in (_default_text(s), f"${s.env}" if s.env else "") if x]
    return s.help + (f" ({'; '.join(extra)})" if extra else "")


#: The metavar of a flag taking a value of this type, when its row names none.
_METAVARS = {int: "N", float: "SECONDS"}


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Add the flags of ``command``'s settings to ``p``. Unset flags stay None, so that
    the variable, then the default, applies (:meth:`Config.from_args`)."""
    groups: dict[str, Any] = {}
    for s in SETTINGS:
        if s.flag is None or command not in s.commands:
            continue
        title = (
            "limits and production settings"
            if s.target == "api"
            else "the PostgreSQL store"
            if s.name.startswith("store")
            else None
        )
        g = p if title is None else groups.setdefault(title, p.add_argument_group(title))
        kw: dict[str, Any] = {"dest": s.name, "default": None, "help": help_text(s)}
        metavar = s.metavar or _METAVARS.get(s.type)
        if metavar and s.action is None:
            kw["metavar"] = metavar
        elif s.metavar:
            kw["metavar"] = s.metavar
        if s.action == "store_true":  # --no-x of a default-True setting, or --x of False
            g.add_argument(s.flag, action="store_const", const=not s.default, **kw)
        elif s.action == "boolean_optional":
            g.add_argument(s.flag, action=argparse.BooleanOptionalAction, **kw)
        elif s.action == "append":
            g.add_argument(s.flag, action="append", **kw)
        else:
            g.add_argument(s.flag, type=s.convert, **kw)


def markdown() -> str:
    """``docs/configuration.md``: every setting, generated from :data:`SETTINGS`."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `graphsvc config-docs` from graphsvc/config.py; "
        "tests/docs/test_config.py fails when they differ. -->",
        "",
        "Every setting of graphsvc is a command-line flag, an environment variable, or",
        "both; the flag wins over the variable, the variable over the default.",
        "",
        "| Setting | Flag | Variable | Default | Commands | What it does |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = _default_value(s)
        lines.append(
            f"| `{s.name}` | {f'`{s.flag}`' if s.flag else ''} "
            f"| {f'`{s.env}`' if s.env else ''} | {default} "
            f"| {', '.join(s.commands)} | {s.help} |"
        )
    return "\n".join(lines) + "\n"
