"""A partial index on the pages that are not live, for the availability search's count.

property_count_available tests "live" as `id NOT IN (pages not live)`, which spares
the count a join to every page. Wagtail does not index `live`, so without this the
short list of unpublished pages costs a scan of the whole page table (~2 ms of the
count's ~5 at 10,000 listings); with it, an index lookup. Only unpublished pages are
in the index, so publishing costs nothing here. PostgreSQL only: SQLite, used in
tests, is not where the search is measured.
"""

from django.db import migrations

CREATE_SQL = "CREATE INDEX IF NOT EXISTS listings_page_not_live ON wagtailcore_page (id) WHERE NOT live;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS listings_page_not_live;")


class Migration(migrations.Migration):
    dependencies = [("listings", "0001_initial"), ("wagtailcore", "0098_apitoken")]

    operations = [migrations.RunPython(forwards, backwards)]
