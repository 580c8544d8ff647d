"""A GiST index on the stay's date range alone, for the availability search's count.

The exclusion constraint's index leads with property_id: ideal for "is this property
free?" (one probe per listing, which the first page of results uses), but slow for
"which bookings overlap these dates, whatever the property?", the hash anti-join
PostgreSQL picks to count every free listing. Measured at 10,000 listings and 200,000
bookings: that index scan drops from ~13 ms to ~1 ms. Partial, like the constraint,
so cancelled bookings cost nothing. PostgreSQL only (SQLite uses the btree).
"""

from django.db import migrations

CREATE_SQL = """
CREATE INDEX IF NOT EXISTS booking_active_stay_range_gist
    ON reservations_booking USING gist (daterange(check_in, check_out, '[)'))
    WHERE status IN ('PENDING', 'PROCESSING', 'CONFIRMED');
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS booking_active_stay_range_gist;")


class Migration(migrations.Migration):
    dependencies = [("reservations", "0003_booking_expire_holds_schedule")]

    operations = [migrations.RunPython(forwards, backwards)]
