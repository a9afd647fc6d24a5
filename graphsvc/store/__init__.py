"""PostgreSQL as the shared store of a fleet of replicas (see README, "Running a fleet").

* :mod:`.pg` - tables, migrations, the change log, write transactions (:class:`PgStore`).
* :mod:`.source` - bulk read and follow the log (:class:`StoreSource`), what
  :class:`graphsvc.corpus.postgres.PostgresSource` reads the store with.
* :mod:`.transfer` - import a folder into the store, export the store as files.

Nothing here knows about GraphQL or the command line.
"""

from .errors import StoreError, StoreUnavailable, VersionConflict
from .pg import SCHEMA_VERSION, PgStore, redact
from .source import StoreDelta, StoreSource

__all__ = [
    "SCHEMA_VERSION",
    "PgStore",
    "StoreDelta",
    "StoreError",
    "StoreSource",
    "StoreUnavailable",
    "VersionConflict",
    "redact",
]
