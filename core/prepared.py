"""Server-side prepared statements for the statements every booking and payment request runs.

PostgreSQL parses and plans every statement it is sent. For the short lookups at the start
of each API request (the token's user, the throttle count, the listing's booking terms) that
work costs the database more than running them (README.md, "Performance"). A statement PREPAREd
once per connection is parsed once; after five runs PostgreSQL settles on a generic plan
and stops planning it too.

`execute_prepared(cursor, name, sql, params)` takes ordinary `%s` SQL. The first call on a
connection sends `PREPARE name AS ...; EXECUTE name(...)` in one round trip; later calls send
`EXECUTE name(...)`. Each database connection keeps its own registry, emptied when Django
opens a new connection (connection_created), so a reconnect prepares again. A failed first
call may or may not have left the statement prepared; the next attempt then uses a new name
instead of guessing. Other databases run the SQL as it is (SQLite caches statements itself).

Not for use behind a transaction-pooling PgBouncer, which hands a client's statements to
different server connections: Nexus connects to PostgreSQL directly (render.yaml).
"""

import itertools
import re

from django.db.backends.signals import connection_created
from django.dispatch import receiver

_REGISTRY = "_prepared_statements"
_attempts = itertools.count(1)
_PLACEHOLDER = re.compile(r"%s")


def _registry(connection) -> dict[str, str]:
    """name asked for -> name prepared on this connection."""
    registry = getattr(connection, _REGISTRY, None)
    if registry is None:
        registry = {}
        setattr(connection, _REGISTRY, registry)
    return registry


@receiver(connection_created, dispatch_uid="core.prepared.forget_on_new_connection")
def forget_on_new_connection(sender, connection, **kwargs) -> None:
    setattr(connection, _REGISTRY, {})


def _numbered(sql: str) -> str:
    """`%s` placeholders as PostgreSQL's $1, $2, ... (`%%` stays for psycopg2 to unescape)."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql.replace("%%", "\0")).replace("\0", "%%")


def prepared_statement(connection, name: str, sql: str, param_count: int) -> tuple[str, str | None]:
    """The SQL to send for `sql` under `name`, and the name to remember once it ran (None: nothing new).

    For callers that run the statement themselves (a RawQuerySet); execute_prepared does both steps.
    """
    if connection.vendor != "postgresql":
        return sql, None
    arguments = f"({', '.join(['%s'] * param_count)})" if param_count else ""
    prepared = _registry(connection).get(name)
    if prepared is not None:
        return f"EXECUTE {prepared}{arguments}", None
    prepared = f"{name}_{next(_attempts)}"
    return f"PREPARE {prepared} AS {_numbered(sql)}; EXECUTE {prepared}{arguments}", prepared


def remember_prepared(connection, name: str, prepared: str | None) -> None:
    if prepared is not None:
        _registry(connection)[name] = prepared


def execute_prepared(cursor, name: str, sql: str, params) -> None:
    """Run `sql` with `params` on `cursor` (a Django cursor); prepared on PostgreSQL."""
    params = list(params)
    statement, prepared = prepared_statement(cursor.db, name, sql, len(params))
    cursor.execute(statement, params)
    remember_prepared(cursor.db, name, prepared)
