"""Test hooks for real servers, installed by ``conftest.serve(..., hooks=...)`` in the
server process before its command line runs (product code has none)."""

from __future__ import annotations

import os
import time


def hold_loads_until(gate: str) -> None:
    """Every corpus load waits until the file ``gate`` exists (to see a server that is
    alive but still loading)."""
    from graphsvc.corpus import Corpus

    load = Corpus.load

    def gated(self, *args, **kwargs):
        while not os.path.exists(gate):
            time.sleep(0.05)
        return load(self, *args, **kwargs)

    Corpus.load = gated


def crash_after_writes(n: int) -> None:
    """The process exits as if killed -9 after ``n`` file changes of a write batch."""
    from graphsvc.files.journal import Batch

    step = Batch.step

    def crashing(self) -> None:
        step(self)
        if self.steps >= n:
            os._exit(137)

    Batch.step = crashing
