"""What a corpus needs from where its articles live: the :class:`Source` protocol.

Two sources implement it: a folder (:class:`~graphsvc.corpus.folder.FolderSource`) and
a PostgreSQL store (:class:`~graphsvc.corpus.postgres.PostgresSource`). A source is
attached to one :class:`~graphsvc.corpus.corpus.Corpus`, and hands every change it
finds or makes to :meth:`Corpus.apply <graphsvc.corpus.corpus.Corpus.apply>`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .articles import Articles
from .changes import Change, Loaded, WriteResult


class Source(Protocol):
    """Where a corpus's articles come from and go to: load, follow, write."""

    #: Where the articles live, as logs and reports name it (a folder's real path, a
    #: store's redacted address).
    where: str
    #: Whether writes may pass ``expected`` versions (``expectedVersion``).
    checks_versions: bool

    def attach(self, corpus: Any) -> None:
        """Become the source of ``corpus``, a :class:`~graphsvc.corpus.corpus.Corpus`
        (called once, by it; not typed here: the corpus module imports this one)."""

    def load(
        self,
        workers: int | None,
        progress: Callable[[int], None] | None,
        on_files: Callable[[int], None] | None,
        on_phase: Callable[[str], None] | None = None,
    ) -> Loaded:
        """Read everything (from the corpus's snapshot when it can) and serve it;
        ``on_phase(name)`` as each phase after parsing starts (``graph``, ``snapshot``)."""

    def follow(self, *args: Any, **options: Any) -> None:
        """Apply changes made elsewhere as they come, until :meth:`stop` (each source
        with options of its own: a folder's debounce and step, say)."""

    def stop(self, timeout: float = 10) -> None:
        """Stop following."""

    def refresh(self, paths: Iterable[str] | None = None) -> Change | None:
        """Look for changes now (``paths``: where to look) and apply them."""

    def upsert(self, articles: Articles, expected: list[int | None] | None = None) -> WriteResult:
        """Write articles, all or nothing; return once the graph shows them."""

    def delete(self, url: str, expected: int | None = None) -> WriteResult:
        """Remove the article ``url`` names; return once the graph shows it."""

    def snapshot_fields(self) -> dict[str, Any]:
        """What the snapshot holds besides the graph, the delta state and signatures."""
