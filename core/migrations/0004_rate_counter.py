from django.db import migrations, models


def unlogged_without_pattern_index(apps, schema_editor):
    """PostgreSQL only: no write-ahead log for throttle counts, and no LIKE index on the key.

    Every throttled request writes one row here; an UNLOGGED table's commit waits for no
    disk flush, and the only loss in a crash is the counts themselves. Django adds a
    varchar_pattern_ops index beside every indexed CharField for LIKE queries; the key
    is only ever looked up by equality, so that index would be written for nothing.
    """
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("core", "RateCounter")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s", [table, "%\\_like"]
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} SET UNLOGGED")


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_idempotency_request_hash"),
    ]

    operations = [
        migrations.CreateModel(
            name="RateCounter",
            fields=[
                ("key", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("window_number", models.BigIntegerField(help_text="Unix time // the rate's duration")),
                ("count", models.PositiveIntegerField()),
                ("previous", models.PositiveIntegerField(help_text="Requests counted in window_number - 1")),
                ("expires", models.BigIntegerField(help_text="Unix time after which the row says nothing")),
            ],
        ),
        migrations.RunPython(unlogged_without_pattern_index, migrations.RunPython.noop),
    ]
