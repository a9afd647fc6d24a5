"""The app each of uvicorn's worker processes builds (``uvicorn --factory``, as
``graphsvc serve --workers`` runs it): configured from the environment the serve
command sets (see ``ops``), its graph loaded before it takes connections."""

from __future__ import annotations

import os
from pathlib import Path

from ..graph.store import GraphStore
from ..live import LiveCorpus
from ..startup import default_corpus
from . import ops
from .app import create_app
from .auth import auth_from_options
from .settings import Settings


def app_from_env():
    """An app configured from the environment, for ``uvicorn --factory`` (e.g. with
    ``--workers``): ``GRAPHSVC_CORPUS`` names the folder (default: the seed articles),
    ``GRAPHSVC_*`` the settings. Each worker loads the graph through the corpus object,
    from its snapshot when that is current (``GRAPHSVC_NO_CACHE=1`` reads the files),
    *before* the factory returns: uvicorn's workers share one listening socket, and a
    worker takes connections from it only once it serves, so no request lands on a
    worker still loading (a single server instead answers 503 NOT_READY meanwhile, and
    /readyz says when it is ready). A worker started again after a crash loads the same
    way while the others go on answering."""
    settings = Settings.from_env()
    ops.configure_logging(settings.log_json, os.environ.get("GRAPHSVC_LOG_LEVEL", "info"))
    folder = Path(os.environ[ops.CORPUS_ENV]) if os.environ.get(ops.CORPUS_ENV) else None
    live = bool(folder) and os.environ.get(ops.LIVE_ENV) == "1"
    folder = folder or default_corpus()
    cache = not os.environ.get(ops.NO_CACHE_ENV)
    store = GraphStore()
    corpus = LiveCorpus(folder, store=store, load=False, cache=cache, keep_state=live, shared=live)
    if live:
        auth = auth_from_options(
            os.environ.get("GRAPHSVC_TOKEN_FILE") or None,
            os.environ.get("GRAPHSVC_READ_TOKEN_REQUIRED") == "1",
            os.environ.get("GRAPHSVC_READ_TOKEN_FILE") or None,
        )
        app = create_app(store, settings, live=corpus, auth=auth)
    else:
        app = create_app(store, settings)

    def load():
        corpus.load()
        if live and os.environ.get(ops.WATCH_ENV, "1") != "0":
            corpus.start_watching()

    # In a thread as for a single server (same logging, metrics and gc.freeze), joined:
    # uvicorn's supervisor keeps pinging the worker meanwhile.
    ops.load_in_background(store, load, app.state.load_state).join()
    return app
