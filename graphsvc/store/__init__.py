"""PostgreSQL as the shared store of a fleet of replicas (see docs/fleet.md).

* :mod:`.pg` - tables, migrations, the change log, write transactions (:class:`PgStore`).
* :mod:`.feed` - bulk read and follow the log (:class:`StoreFeed`), what
  :class:`graphsvc.corpus.postgres.PostgresSource` reads the store with.
* :mod:`.transfer` - import a folder into the store, export the store as files.

Nothing here knows about GraphQL or the command line.
"""

from .feed import StoreDelta, StoreFeed
from .pg import SCHEMA_VERSION, PgStore, redact

__all__ = [
    "SCHEMA_VERSION",
    "PgStore",
    "StoreDelta",
    "StoreFeed",
    "redact",
]
