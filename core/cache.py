"""The database cache, with `set` in one statement.

Used when REDIS_URL is not set (nexus/settings/base.py). The request throttles used to
keep their histories here (they count in their own table now, core.throttling); the
sign-in lock and Django's other cache users still write with `cache.set`, and Django's
DatabaseCache spends five statements on each: `SELECT COUNT(*)`
of the whole table to decide whether to cull, then a transaction with a read, an UPDATE
or INSERT, and a COMMIT. Here a `set` outside a transaction is a single
`INSERT ... ON CONFLICT (cache_key) DO UPDATE` (PostgreSQL and SQLite both have it), which
the database commits on its own, and the size check runs on one set in CULL_EVERY per
process instead of on every one. MAX_ENTRIES stays a soft bound, as it always was: the
table can exceed it by the sets made between two checks. On PostgreSQL the table is
UNLOGGED, so that commit waits for no disk (core/management/commands/createcachetable.py).

Everything else (`get`, `add`, `incr`, `touch`, `delete`, expiry, culling itself) is
Django's. Inside a transaction `set` is Django's too: its savepoint keeps a failed write
from breaking the caller's transaction.
"""

import base64
import pickle
import threading
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import DatabaseError, connections, router
from django.utils.timezone import now as tz_now

UPSERT_VENDORS = ("postgresql", "sqlite")
DEFAULT_CULL_EVERY = 100


class DatabaseCache(DjangoDatabaseCache):
    def __init__(self, table, params):
        super().__init__(table, params)
        options = params.get("OPTIONS", {})
        self._cull_every = max(1, int(options.get("CULL_EVERY", DEFAULT_CULL_EVERY)))
        self._sets = 0
        self._sets_lock = threading.Lock()

    def _cull_due(self) -> bool:
        """True on the first set of this process and then on every CULL_EVERY-th."""
        with self._sets_lock:
            due = self._sets % self._cull_every == 0
            self._sets += 1
        return due

    def _base_set(self, mode, key, value, timeout=DEFAULT_TIMEOUT):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        if mode != "set" or connection.vendor not in UPSERT_VENDORS or connection.in_atomic_block:
            return super()._base_set(mode, key, value, timeout)
        timeout = self.get_backend_timeout(timeout)
        quote_name = connection.ops.quote_name
        table = quote_name(self._table)
        expires = datetime.max if timeout is None else datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
        expires = connection.ops.adapt_datetimefield_value(expires.replace(microsecond=0))
        encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
        key_column, value_column, expires_column = (quote_name(name) for name in ("cache_key", "value", "expires"))
        with connection.cursor() as cursor:
            if self._cull_due():
                cursor.execute(f"SELECT COUNT(*) FROM {table}")
                count = cursor.fetchone()[0]
                if count > self._max_entries:
                    self._cull(db, cursor, tz_now().replace(microsecond=0), count)
            try:
                cursor.execute(
                    f"INSERT INTO {table} ({key_column}, {value_column}, {expires_column}) VALUES (%s, %s, %s) "
                    f"ON CONFLICT ({key_column}) DO UPDATE SET {value_column} = EXCLUDED.{value_column}, "
                    f"{expires_column} = EXCLUDED.{expires_column}",
                    [key, encoded, expires],
                )
            except DatabaseError:
                # As Django's: a cache write that fails is a miss later, not an error now.
                return False
        return True
