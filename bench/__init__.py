"""graphsvc's benchmarks: each module measures one thing against a baseline measured in
the same run, and prints the ratio with the absolute figures.

``python -m bench`` (``bench/__main__.py``) runs the ones with a label; ``bench/RESULTS.md``
records runs and refers to results by these labels. The others run on their own
(``python -m bench.<module> --help``).

=====  ======================  ==========================================================
label  module                  what it measures (baseline)
=====  ======================  ==========================================================
P1     ``cold_load``           cold load of N files into the graph (PyYAML's C loader)
P2     ``snapshot_start``      restart from a snapshot (a cold load, new process each)
P3     ``article_read``        ``article(url)`` over HTTP (a bare Starlette route)
P4     ``subgraph_read``       a 20k nodes+edges subgraph over HTTP (networkx + orjson)
P5     ``chain_read``          ``chain`` at ~1M articles in memory (networkx's shortest path)
P6     ``graph_memory``        the graph's RSS at ~1M articles (goal: 4 GB, no baseline)
P6L    ``live_memory``         RSS of ``serve DIR`` following its folder (the same, static)
-      ``live_memory_big``     P6L at ~1M articles from snapshots (the graph alone)
P7     ``live_folder``         one file edited -> visible (a full rebuild)
P8     ``live_folder``         default-mode restart from the snapshot (a cold start)
P7M    ``edit_latency_big``    P7 at ~1M articles in memory (a full rebuild)
P9     ``upsert_latency``      ``upsertArticle`` -> response (``article(url)``)
P10    ``sustained_load``      64 clients, an edit a second: 2 workers (1 worker)
P11    ``fleet``               a write on replica A visible on B (A's own response)
P12    ``fleet``               a replica's start (a cold folder load)
P13    ``fleet``               read throughput of two replicas (one)
W      ``fleet``               upserts/s through a replica (the store's transactions/s)
S1-S3  ``search``              search, where and facets (SQLite FTS5; a Python loop)
H1     ``http_cache``          persisted-query GET answered 304 (the full GET)
C1     ``cli_imports``         ``graphsvc --version`` and ``validate`` (``python -c pass``)
-      ``analytics``           clusters and PageRank (networkx's Louvain; the code before)
-      ``map_queries``         capped subgraph, k chains (the uncapped or single query)
-      ``freeze``              a small query while the worst admitted one runs (idle)
-      ``map_fps``             the map's frame rate in Chromium (an empty page)
=====  ======================  ==========================================================

Helpers: ``common`` (machine facts, generated corpora, servers, the load client,
percentiles), ``shapes`` (the JSON the baselines answer), ``baseline_app`` and
``fts5_app`` (the baselines' servers), ``report`` (a run as a RESULTS.md section).
"""
