"""core.cache.DatabaseCache: Django's database cache with `set` in one statement.

The cache holds the sign-in lock's counters when REDIS_URL is not set (the request
throttles count in their own table, core.throttling), so it must stay a cache every
process shares: what one request writes, the next one reads, and the lock refuses on it.
"""

import pytest
from django.core.management import call_command
from django.core.management.commands.createcachetable import Command as DjangoCreateCacheTable
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.cache import DatabaseCache
from tests.factories import UserFactory

TABLE = "test_core_cache"


@pytest.fixture
def db_cache(transactional_db):
    """A table of its own, outside any transaction (as in a request, where `set` is one statement)."""
    call_command("createcachetable", TABLE, verbosity=0)
    yield DatabaseCache(TABLE, {"OPTIONS": {"MAX_ENTRIES": 5, "CULL_EVERY": 10}})
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(TABLE)}")


def _rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(TABLE)}")
        return cursor.fetchone()[0]


def test_set_outside_a_transaction_is_one_statement_and_overwrites(db_cache):
    db_cache.set("first", "checks the size")  # the first set of a process checks the table's size
    with CaptureQueriesContext(connection) as queries:
        db_cache.set("history", [3.0, 2.0, 1.0], 60)
        db_cache.set("history", [4.0, 3.0, 2.0, 1.0], 60)

    assert len(queries) == 2
    assert "ON CONFLICT" in queries[0]["sql"]
    assert db_cache.get("history") == [4.0, 3.0, 2.0, 1.0]


def test_set_keeps_djangos_timeouts(db_cache):
    db_cache.set("gone", "x", 0)  # 0: expires at once
    db_cache.set("kept", "y", None)  # None: never expires
    db_cache.set("default", "z")

    assert db_cache.get("gone") is None
    assert db_cache.get("kept") == "y"
    assert db_cache.get("default") == "z"


def test_set_inside_a_transaction_rolls_back_with_it(db_cache):
    with pytest.raises(RuntimeError), transaction.atomic():
        db_cache.set("inside", "rolled back", 60)
        assert db_cache.get("inside") == "rolled back"
        raise RuntimeError

    assert db_cache.get("inside") is None


def test_add_incr_touch_and_delete_are_djangos(db_cache):
    assert db_cache.add("count", 0, 60) is True
    assert db_cache.add("count", 5, 60) is False
    assert db_cache.incr("count") == 1
    assert db_cache.touch("count", 120) is True
    assert db_cache.touch("missing", 120) is False
    assert db_cache.get("count") == 1
    db_cache.delete("count")
    assert db_cache.get("count") is None


def test_the_size_is_checked_every_cull_every_sets_and_stays_bounded(db_cache):
    with CaptureQueriesContext(connection) as queries:
        for n in range(200):
            db_cache.set(f"key-{n}", n, 60)

    counts = [query for query in queries if query["sql"].startswith("SELECT COUNT(*)")]
    assert len(counts) == 20  # one set in CULL_EVERY (10)
    # Django's cull removes a third of the rows when over MAX_ENTRIES (5): with 10 new keys
    # between checks the table settles near 3 x 10, never the 200 keys written.
    assert _rows() <= 45
    assert db_cache.get("key-199") == 199


def _persistence(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="UNLOGGED is PostgreSQL's")
def test_createcachetable_makes_the_table_unlogged_and_converts_a_logged_one(db_cache):
    assert _persistence(TABLE) == "u"  # made by the fixture, through the project's command

    call_command("createcachetable", TABLE, verbosity=0)  # again: the table exists, nothing breaks
    assert _persistence(TABLE) == "u"

    call_command(DjangoCreateCacheTable(), "test_core_cache_logged", verbosity=0)  # Django's own: logged
    try:
        assert _persistence("test_core_cache_logged") == "p"
        call_command("createcachetable", "test_core_cache_logged", verbosity=0)
        assert _persistence("test_core_cache_logged") == "u"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE test_core_cache_logged")


def test_createcachetable_still_creates_the_table(db_cache):
    """On SQLite (and PostgreSQL) the command is Django's: the table is there and works."""
    db_cache.set("here", 1, 60)
    assert _rows() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sign_in_lock_counts_on_the_database_cache(settings):
    """Wrong passwords counted by one request are read by the next: the LIMIT-th locks."""
    from django.test import RequestFactory

    from core.throttling import sign_in_failed, sign_in_locked

    call_command("createcachetable", TABLE, verbosity=0)
    try:
        settings.CACHES = {"default": {"BACKEND": "core.cache.DatabaseCache", "LOCATION": TABLE}}
        settings.LOGIN_FAILURE_LIMIT = 3
        request = RequestFactory().post("/", REMOTE_ADDR="10.1.2.3")
        for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
            sign_in_failed(request, "Someone@Example.com")
        assert not sign_in_locked(request, "someone@example.com")

        sign_in_failed(request, "someone@example.com")

        assert sign_in_locked(request, "someone@example.com")
        assert _rows() == 2  # one count for the account, one for the address
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(TABLE)}")
