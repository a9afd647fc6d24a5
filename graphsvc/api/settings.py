"""Service settings: one dataclass for ``create_app``, filled from flags and ``GRAPHSVC_*``.

Each setting has a command-line flag and an environment variable; the flag wins.

>>> s = Settings.from_env({"GRAPHSVC_MAX_DEPTH": "7", "GRAPHSVC_CORS_ORIGINS": "https://a.example"})
>>> s.max_depth, s.cors_origins, s.introspection
(7, ('https://a.example',), True)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Settings:
    #: Deepest selection nesting allowed (introspection fields are not counted).
    max_depth: int = 10
    #: Most lexical tokens in one query document; parsing stops past it.
    max_tokens: int = 1000
    #: Most aliased fields in one document.
    max_aliases: int = 50
    #: Most field selections once fragments are expanded (stops "fragment bombs").
    max_fields: int = 10_000
    #: Budget for the estimated cost of traversal fields (see ``cost.COSTS``).
    max_cost: int = 10_000
    #: Seconds one GraphQL operation may run.
    time_limit: float = 10.0
    #: 0: operations run on the server's loop and stop at their first field past the time
    #: limit. N > 0: they run in up to N worker threads and the time limit answers at
    #: once, even inside a long resolver; but resolvers hold the GIL, so the threads slow
    #: the loop's own work (HTTP, JSON) and cut throughput (see bench/RESULTS.md).
    threads: int = 0
    #: With ``threads`` 0: operations whose estimated cost (see ``limits``) is at least
    #: this run in a worker thread (at most ``heavy_threads`` at a time), so the loop keeps
    #: answering small queries meanwhile; cheaper ones run on the loop (0: never).
    heavy_cost: int = 1000
    heavy_threads: int = 2
    #: Seconds an idle kept-alive connection stays open after a response.
    timeout_keep_alive: float = 5.0
    #: Seconds a request may take to arrive, headers and body, from its first byte (or
    #: from the connection); past it the connection is closed (0: no bound).
    timeout_request: float = 10.0
    #: Connections and tasks at once; requests past it get 503 (uvicorn's limit).
    limit_concurrency: int = 1000
    #: Seconds between websocket pings, and to wait for the pong before closing.
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    #: Downloads from ``/export/`` rendered at once; more get 503 with ``Retry-After``.
    max_exports: int = 2
    #: Largest request body in bytes; larger ones get 413 before being read.
    max_body_bytes: int = 1_048_576
    #: Longest query string of a GET request in bytes; longer ones get 414.
    max_get_query: int = 8192
    introspection: bool = True
    graphiql: bool = True
    #: Origins allowed to call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    #: One JSON object per log line instead of text.
    log_json: bool = False
    #: Responses at least this large are gzipped when the client accepts it (0: never,
    #: e.g. when the reverse proxy compresses).
    gzip_min_bytes: int = 1024
    #: Room for other features' settings without changing this class's signature.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("GRAPHSVC_" + f.name.upper())
            if raw is not None and raw.strip() != "":
                values[f.name] = _convert(f.name, cls.__dataclass_fields__[f.name].default, raw)
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """Settings from ``add_arguments``'s flags (which default to the environment)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
        if "cors_origins" in values:
            values["cors_origins"] = tuple(values["cors_origins"])
        return dataclasses.replace(cls.from_env(), **values)


def _convert(name: str, default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        return tuple(x.strip() for x in raw.split(",") if x.strip())
    return raw


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The production flags of ``graphsvc serve``; unset flags fall back to the environment."""
    g = p.add_argument_group("limits and production settings (env GRAPHSVC_<NAME>)")
    d = Settings()
    g.add_argument("--max-depth", type=int, help=f"query depth limit (default {d.max_depth})")
    g.add_argument("--max-tokens", type=int, help=f"query token limit (default {d.max_tokens})")
    g.add_argument("--max-aliases", type=int, help=f"alias limit (default {d.max_aliases})")
    g.add_argument(
        "--max-fields",
        type=int,
        help=f"field selections with fragments expanded (default {d.max_fields})",
    )
    g.add_argument(
        "--max-cost", type=int, help=f"traversal cost budget per request (default {d.max_cost})"
    )
    g.add_argument(
        "--time-limit", type=float, help=f"seconds per operation (default {d.time_limit:g})"
    )
    g.add_argument(
        "--threads",
        type=int,
        help=f"run operations in N worker threads (default {d.threads}: on the event loop)",
    )
    g.add_argument(
        "--heavy-cost",
        type=int,
        help="operations costing at least this run in a worker thread, cheaper ones on the "
        f"event loop (default {d.heavy_cost}; 0: all on the loop)",
    )
    g.add_argument(
        "--heavy-threads",
        type=int,
        help=f"worker threads for such operations (default {d.heavy_threads})",
    )
    g.add_argument(
        "--timeout-keep-alive",
        type=float,
        help=f"seconds an idle connection stays open (default {d.timeout_keep_alive:g})",
    )
    g.add_argument(
        "--timeout-request",
        type=float,
        help="seconds a request may take to arrive, headers and body "
        f"(default {d.timeout_request:g}; 0: no bound)",
    )
    g.add_argument(
        "--limit-concurrency",
        type=int,
        help=f"connections at once; requests past it get 503 (default {d.limit_concurrency})",
    )
    g.add_argument(
        "--ws-ping-interval",
        type=float,
        help=f"seconds between websocket pings (default {d.ws_ping_interval:g})",
    )
    g.add_argument(
        "--ws-ping-timeout",
        type=float,
        help=f"seconds to wait for a pong before closing (default {d.ws_ping_timeout:g})",
    )
    g.add_argument(
        "--max-exports",
        type=int,
        help=f"/export downloads rendered at once; more get 503 (default {d.max_exports})",
    )
    g.add_argument(
        "--max-body-bytes", type=int, help=f"request body limit (default {d.max_body_bytes})"
    )
    g.add_argument(
        "--max-get-query", type=int, help=f"GET query string limit (default {d.max_get_query})"
    )
    g.add_argument(
        "--no-introspection",
        dest="introspection",
        action="store_const",
        const=False,
        help="refuse introspection queries (__schema, __type)",
    )
    g.add_argument(
        "--no-graphiql", dest="graphiql", action="store_const", const=False, help="no GraphiQL page"
    )
    g.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        metavar="ORIGIN",
        help="allow browser calls from ORIGIN (repeatable; env: comma-separated)",
    )
    g.add_argument(
        "--log-json", dest="log_json", action="store_const", const=True, help="JSON log lines"
    )
