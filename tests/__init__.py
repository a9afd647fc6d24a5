"""The test suite, by what it covers:

- ``tests/unit``: in process, no server process (starlette's TestClient at most);
- ``tests/e2e``: real ``graphsvc serve`` processes, PostgreSQL, Chromium, the command line;
- ``tests/hostile``: fuzzers, attacks, hostile clients, values and text, malformed input;
- ``tests/docs``: the README's and docs' examples and the generated configuration page.

Shared helpers (``conftest``, ``livetools``, ``corpus``, ``pgtools``, ...) and ``data/``,
``tools/`` stay here, imported as ``tests.NAME``."""
