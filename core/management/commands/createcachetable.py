"""Django's createcachetable; on PostgreSQL the cache table is then made UNLOGGED.

The database cache (core.cache) is written on every throttled request: each booking
POST, payment and sign-in records its throttle history there. A write to an ordinary
table commits with a flush of the write-ahead log to disk, and on a busy disk that flush
is the most expensive part of the request (bench/). An UNLOGGED table skips the log:
its commits wait for no disk. What it gives up is what a cache can give up: after a
database crash (not a clean restart) PostgreSQL empties it, and standbys do not carry
it. Throttle histories and sign-in failure counts then start again from zero, as they
would after a Redis restart.

Every place that sets up a database runs this command (Makefile, render.yaml,
bench/, tests/scale/); an existing logged cache table is converted on the next run.
"""

from django.core.management.commands.createcachetable import Command as DjangoCommand
from django.db import connections


class Command(DjangoCommand):
    help = DjangoCommand.help + " On PostgreSQL the tables are UNLOGGED (no write-ahead log: a cache)."

    def create_table(self, database, tablename, dry_run):
        super().create_table(database, tablename, dry_run)
        connection = connections[database]
        if dry_run or connection.vendor != "postgresql":
            return
        if tablename not in connection.introspection.table_names():
            return  # the router keeps the cache out of this database
        with connection.cursor() as cursor:
            quoted = connection.ops.quote_name(tablename)
            cursor.execute("SELECT relpersistence FROM pg_class WHERE oid = %s::regclass", [quoted])
            if cursor.fetchone()[0] == "p":
                cursor.execute(f"ALTER TABLE {quoted} SET UNLOGGED")
                if self.verbosity > 1:
                    self.stdout.write(f"Cache table '{tablename}' made UNLOGGED.")
