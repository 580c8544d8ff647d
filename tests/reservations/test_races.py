"""Races decided by the database: real threads, each with its own connection, through the real API.

PostgreSQL: the exclusion constraint refuses the losers. SQLite: BEGIN IMMEDIATE
serialises the check-and-insert. Either way exactly one overlapping booking wins.
"""

import datetime as dt
import itertools
import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from reservations.models import ACTIVE_STATUSES, Booking
from reservations.services import booking_cancel, booking_expire_holds
from tests.factories import UserFactory, future_date, make_booking, make_property

THREADS = 24
ROUNDS = 4
BOOKINGS = "/api/bookings/"


def _run_together(count: int, work) -> list:
    """Start `count` threads on `work(i)` at the same instant; return their results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:  # reported as the thread's result, so the test shows it
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a booking thread hung"
    return results


def _assert_no_overlapping_active_bookings(property):
    stays = sorted(
        Booking.objects.filter(property=property, status__in=ACTIVE_STATUSES).values_list("check_in", "check_out")
    )
    for (_, first_out), (second_in, _) in itertools.pairwise(stays):
        assert first_out <= second_in, f"overlapping active bookings: {stays}"


@pytest.mark.django_db(transaction=True)
def test_many_guests_booking_overlapping_stays_at_once_exactly_one_wins():
    property = make_property(max_guests=2, price_per_night=3000)
    guests = [UserFactory() for _ in range(THREADS)]
    clients = []
    for user in guests:
        client = APIClient()
        client.force_authenticate(user)
        clients.append(client)

    for round_number in range(ROUNDS):
        base = future_date(10 + 20 * round_number)

        def book(i, base=base):
            # Every stay covers the night base+2, so any two of them overlap.
            check_in = base + dt.timedelta(days=i % 3)
            body = {
                "property": property.pk,
                "check_in": check_in.isoformat(),
                "check_out": (check_in + dt.timedelta(days=3)).isoformat(),
                "guests": [],
            }
            response = clients[i].post(BOOKINGS, body, format="json")
            return response.status_code, response.json().get("code")

        results = _run_together(THREADS, book)
        statuses = Counter(result[0] if isinstance(result, tuple) else repr(result) for result in results)
        assert statuses == Counter({201: 1, 409: THREADS - 1}), f"round {round_number}: {results}"
        assert all(code == "dates_unavailable" for status, code in results if status == 409)

    assert Booking.objects.filter(property=property, status__in=ACTIVE_STATUSES).count() == ROUNDS
    _assert_no_overlapping_active_bookings(property)


@pytest.mark.django_db(transaction=True)
def test_adjacent_stays_booked_at_once_all_succeed():
    property = make_property(max_guests=2)
    count = 12
    users = [UserFactory() for _ in range(count)]
    base = future_date(15)

    def book(i):
        client = APIClient()
        client.force_authenticate(users[i])
        check_in = base + dt.timedelta(days=2 * i)  # [base+2i, base+2i+2): each check-out is the next check-in
        body = {
            "property": property.pk,
            "check_in": check_in.isoformat(),
            "check_out": (check_in + dt.timedelta(days=2)).isoformat(),
        }
        return client.post(BOOKINGS, body, format="json").status_code

    assert _run_together(count, book) == [201] * count
    _assert_no_overlapping_active_bookings(property)


@pytest.mark.django_db(transaction=True)
def test_a_freed_stay_is_rebooked_by_exactly_one_of_many():
    """Cancel and re-book at once: the nights go to one guest, never two."""
    property = make_property(max_guests=2)
    held = make_booking(property=property, check_in=future_date(12), nights=3)
    users = [UserFactory() for _ in range(10)]

    def work(i):
        if i == 0:
            booking_cancel(booking_id=held.pk, actor=held.primary_guest)
            return "canceled"
        client = APIClient()
        client.force_authenticate(users[i])
        body = {
            "property": property.pk,
            "check_in": future_date(12).isoformat(),
            "check_out": future_date(14).isoformat(),
        }
        return client.post(BOOKINGS, body, format="json").status_code

    results = _run_together(10, work)
    assert results[0] == "canceled"
    assert results[1:].count(201) <= 1
    assert set(results[1:]) <= {201, 409}
    _assert_no_overlapping_active_bookings(property)


@pytest.mark.django_db(transaction=True)
def test_expiring_holds_from_two_workers_at_once_cancels_each_booking_once():
    """Two django-q2 workers running the schedule together: each expired hold is cancelled
    once and the guest loses the credit once."""
    from django.utils import timezone

    from accounts.models import User

    guest = UserFactory(credit_score=50)
    property = make_property()
    for n in range(5):
        make_booking(
            property=property,
            guest=guest,
            check_in=future_date(10 + 5 * n),
            hold_expires_at=timezone.now() - dt.timedelta(minutes=1),
        )
    results = _run_together(4, lambda i: booking_expire_holds())
    assert sum(results) == 5, results
    assert User.objects.get(pk=guest.pk).credit_score == 50 - 3 * 5
    assert not Booking.objects.filter(status="PENDING").exists()
