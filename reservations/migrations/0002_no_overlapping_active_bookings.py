"""No double booking, enforced by PostgreSQL itself.

Two bookings of one property whose half-open stays [check_in, check_out) overlap
can never both be active. btree_gist lets the GiST index combine the property id
(equality) with the date range (overlap); it is a trusted extension since
PostgreSQL 13, so the database owner may create it. The same GiST index serves
the availability search.

SQLite has no exclusion constraints: there, booking_create takes the write lock
up front (transaction_mode IMMEDIATE) around check-and-insert.

The constraint lives outside Django's model state on purpose: it exists only on
PostgreSQL, and makemigrations must stay clean on both databases.
"""

from django.db import migrations

CONSTRAINT_SQL = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE reservations_booking
    ADD CONSTRAINT booking_no_overlapping_active_stays
    EXCLUDE USING gist (
        property_id WITH =,
        daterange(check_in, check_out, '[)') WITH &&
    ) WHERE (status IN ('PENDING', 'PROCESSING', 'CONFIRMED'));
"""

DROP_SQL = "ALTER TABLE reservations_booking DROP CONSTRAINT IF EXISTS booking_no_overlapping_active_stays;"

BLOCKED_INDEX_SQL = """
CREATE INDEX IF NOT EXISTS blocked_period_range_gist
    ON listings_blockedperiod USING gist (property_id, daterange(start, "end", '[)'));
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CONSTRAINT_SQL)
        schema_editor.execute(BLOCKED_INDEX_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)
        schema_editor.execute("DROP INDEX IF EXISTS blocked_period_range_gist;")


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0001_initial"),
        ("listings", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
