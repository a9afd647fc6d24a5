"""A corpus: the live graph of articles kept in a folder or a PostgreSQL store.

* :mod:`.corpus` - :class:`Corpus`: versions, deltas, snapshots, listeners.
* :mod:`.source` - the :class:`Source` protocol (load, follow, write), implemented by
  :mod:`.folder` (:func:`folder_corpus`) and :mod:`.postgres` (:func:`store_corpus`);
  their writes in :mod:`.folder_writer` and :mod:`.postgres_writer`.
* Background jobs, one each: :mod:`.watcher` (follow a folder), :mod:`.snapshots`
  (write the snapshot), :mod:`.coldload` (a cold load in a child process),
  :mod:`.versions` (versions shared by several processes).
* :mod:`.changes` (what a corpus reports), :mod:`.articles` (articles as file text),
  :mod:`.errors`, :mod:`.sigs` (file signatures).

Nothing here knows about GraphQL.
"""

from .changes import Change, Loaded, WriteResult, Written, diff
from .corpus import Corpus, log_to_stderr
from .folder import folder_corpus
from .source import Source

__all__ = [
    "Change",
    "Corpus",
    "Loaded",
    "Source",
    "WriteResult",
    "Written",
    "diff",
    "folder_corpus",
    "log_to_stderr",
]
