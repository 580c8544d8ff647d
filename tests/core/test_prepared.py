"""core.prepared: on PostgreSQL a statement is prepared once per connection, then run by name."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.prepared import execute_prepared

SQL = "SELECT %s + 1, '100%%'"


def _run(value):
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        execute_prepared(cursor, "test_plus_one", SQL, [value])
        row = cursor.fetchone()
    assert len(queries) == 1  # preparing never costs a round trip of its own
    return row, queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_prepared_once_per_connection_then_executed_by_name():
    connection.close()

    first, first_sql = _run(1)
    second, second_sql = _run(41)

    assert first == (2, "100%") and second == (42, "100%")
    if connection.vendor != "postgresql":
        assert (first_sql, second_sql) == ("SELECT 1 + 1, '100%'", "SELECT 41 + 1, '100%'")
        return
    assert first_sql.startswith("PREPARE test_plus_one_") and "AS SELECT $1 + 1, '100%'" in first_sql
    name = first_sql.split()[1]
    assert second_sql == f"EXECUTE {name}(41)"

    connection.close()  # a new connection knows no prepared statement: prepared again
    third, third_sql = _run(2)
    assert third == (3, "100%") and third_sql.startswith("PREPARE ")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL prepares statements")
@pytest.mark.django_db(transaction=True)
def test_a_failed_first_run_prepares_under_a_new_name_next_time():
    connection.close()
    with pytest.raises(Exception), connection.cursor() as cursor:  # prepared, then the EXECUTE fails
        execute_prepared(cursor, "test_divide", "SELECT 1 / %s", [0])

    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        execute_prepared(cursor, "test_divide", "SELECT 1 / %s", [1])
        assert cursor.fetchone() == (1,)
    assert queries[0]["sql"].startswith("PREPARE test_divide_")
