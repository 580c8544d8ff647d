"""core.throttling.WindowRateThrottle: DRF's rates, counted in one upsert per request.

The booking, payment and sign-up/token throttles use it. Limits hold under concurrent
requests, a refused request does not count, and the previous window still weighs on the
next one, so a burst at a window's end cannot be followed by a second burst at once.
"""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.models import RateCounter
from core.throttling import CLEAN_UP_EVERY, WindowRateThrottle, rate_counter_hit
from tests.factories import UserFactory
from tests.processes import run_together


class FivePerMinute(WindowRateThrottle):
    rate = "5/min"

    def get_cache_key(self, request, view):
        return "test-five:" + request.META["REMOTE_ADDR"]


def _throttle(at: float) -> FivePerMinute:
    throttle = FivePerMinute()
    throttle.timer = lambda: at
    return throttle


def _request(address="10.0.0.1"):
    return RequestFactory().post("/", REMOTE_ADDR=address)


def _allowed(at: float, address="10.0.0.1") -> bool:
    return _throttle(at).allow_request(_request(address), None)


@pytest.mark.django_db
def test_the_limit_is_the_rate_and_a_refusal_says_when_to_come_back():
    start = 60 * 1000  # the start of a window
    assert [_allowed(start + n) for n in range(5)] == [True] * 5

    refused = _throttle(start + 10)
    assert refused.allow_request(_request(), None) is False
    # This window alone is full, so not before the next one, and then not before a fifth of
    # it has passed: at its start the five of this window would still weigh in full.
    assert refused.wait() == 50 + 12
    assert _allowed(start + 10, address="10.0.0.2")  # another client has its own count


@pytest.mark.django_db
def test_a_refused_request_does_not_count():
    start = 60 * 2000
    for n in range(5):
        assert _allowed(start + n)
    for n in range(20):
        assert not _allowed(start + 10 + n)

    row = RateCounter.objects.get(key="test-five:10.0.0.1")
    assert (row.window_number, row.count, row.previous) == (2000, 5, 0)


@pytest.mark.django_db
def test_the_previous_window_weighs_on_the_next_until_it_has_slid_out():
    start = 60 * 3000
    for n in range(5):
        assert _allowed(start + 55 + n / 10)  # a burst at the end of a window

    # 6 s into the next window, 90 % of the burst still lies in the last minute.
    throttle = _throttle(start + 66)
    assert throttle.allow_request(_request(), None) is False
    assert throttle.wait() == 6  # at 12 s in, 5 * 0.8 + 1 = 5: allowed
    assert not _allowed(start + 71)
    assert _allowed(start + 72)
    row = RateCounter.objects.get(key="test-five:10.0.0.1")
    assert (row.window_number, row.count, row.previous) == (3001, 1, 5)

    # Two windows later the burst is forgotten.
    assert [_allowed(start + 180 + n) for n in range(6)] == [True] * 5 + [False]


@pytest.mark.django_db
def test_an_allowed_request_costs_one_statement():
    _allowed(60 * 4000)  # the row exists; the next hits update it
    with CaptureQueriesContext(connection) as queries:
        assert _allowed(60 * 4000 + 1)
    assert len(queries) == 1
    sql = queries[0]["sql"]
    # On PostgreSQL a prepared statement (core.prepared), run by name after the first time.
    assert sql.startswith("EXECUTE nexus_rate_hit_") if connection.vendor == "postgresql" else "ON CONFLICT" in sql


@pytest.mark.django_db
def test_expired_rows_are_deleted_now_and_then(monkeypatch):
    import core.throttling

    for n in range(3):
        rate_counter_hit(key=f"old-{n}", window_number=10, expires=100, now=50)
    monkeypatch.setattr(core.throttling, "_hits", iter([CLEAN_UP_EVERY - 1]))
    rate_counter_hit(key="new", window_number=1000, expires=2000, now=1000)

    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_get_past_the_limit():
    """Twelve clients-in-one at the same moment, each on its own connection: five get in."""
    start = 60 * 5000 + 1

    results = run_together([lambda: _allowed(start) for _ in range(12)])

    assert results.count(True) == 5, results
    assert results.count(False) == 7, results
    assert RateCounter.objects.get(key="test-five:10.0.0.1").count == 5


@pytest.mark.django_db
def test_the_token_api_is_throttled_per_address_in_the_counter_table(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "auth": "2/min"})
    UserFactory(email="someone@example.com")
    client = APIClient()
    body = {"email": "someone@example.com", "password": "not it"}

    statuses = [client.post("/api/auth/token/", body, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert RateCounter.objects.filter(key__startswith="throttle_auth_").count() == 1


@pytest.mark.django_db
def test_a_key_longer_than_the_column_is_counted_under_its_digest():
    key = "throttle_payment_phone_" + "9" * 400

    assert rate_counter_hit(key=key, window_number=1, expires=10, now=1) == (1, 0)
    assert rate_counter_hit(key=key, window_number=1, expires=10, now=1) == (2, 0)
    (row,) = RateCounter.objects.all()
    assert row.key.startswith("sha256:") and len(row.key) <= 255
