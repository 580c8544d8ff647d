"""A booking's "created" audit entry and notifications are written by the worker's follow-up.

Booking creation writes the booking and its guests only; bookings_follow_up_created (every
minute) writes the audit entry dated when the booking was made and enqueues the
booking_created notifications, once per booking, however many workers run it.
"""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from rest_framework.test import APIClient

from core.models import AuditEntry
from reservations import services
from reservations.models import Booking
from tests.factories import UserFactory, future_date, make_property
from tests.processes import run_together

pytestmark = pytest.mark.django_db


def _book(guest, property, *, days_ahead=20, nights=2):
    check_in = future_date(days_ahead)
    return services.booking_create(
        user=guest, property_id=property.pk, check_in=check_in,
        check_out=check_in + dt.timedelta(days=nights), guests=[],
    )


def _created_entries(booking):
    return list(AuditEntry.objects.filter(object_id=str(booking.pk), action="booking.created"))


def test_a_booking_post_writes_the_booking_and_its_guests_and_nothing_else(site_tree):
    guest, property = UserFactory(), make_property(price_per_night=5000)
    client = APIClient()
    client.force_authenticate(guest)
    check_in = future_date(10)
    body = {"property": property.pk, "check_in": check_in.isoformat(),
            "check_out": (check_in + dt.timedelta(days=2)).isoformat(), "guests": []}

    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/bookings/", body, format="json")

    assert response.status_code == 201, response.content
    writes = [q["sql"].split()[2] for q in queries if q["sql"].startswith("INSERT")]
    writes = [table for table in writes if table != '"core_ratecounter"']  # the throttle's count (on SQLite)
    assert writes == ['"reservations_booking"', '"reservations_bookingguest"']
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.created_followed_up_at is None
    assert _created_entries(booking) == [] and OrmQ.objects.count() == 0


def test_the_follow_up_writes_the_entry_as_of_creation_and_notifies_once(
    site_tree, django_capture_on_commit_callbacks
):
    guest, property = UserFactory(), make_property(price_per_night=4000)
    booking = _book(guest, property, nights=3)
    # Paid in full before the worker gets to it: the entry still says how it was made.
    Booking.objects.filter(pk=booking.pk).update(status="CONFIRMED", amount_paid=12000, balance_due=0)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.bookings_follow_up_created() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.bookings_follow_up_created() == 0  # nothing left to do

    (entry,) = _created_entries(booking)
    assert entry.created_at == booking.booking_date
    assert entry.actor == guest
    assert entry.after == {
        "status": "PENDING", "amount_paid": 0, "balance_due": 12000, "property": property.pk,
        "check_in": booking.check_in.isoformat(), "check_out": booking.check_out.isoformat(),
        "total_price": 12000, "party_size": 1,
    }
    assert booking.reference in entry.summary and property.title in entry.summary
    assert [m.to for m in mail.outbox] == [[property.owner.email]]
    booking.refresh_from_db()
    assert booking.created_followed_up_at is not None
    assert booking.status == "CONFIRMED"  # the follow-up changes nothing else on the booking


def test_old_and_already_followed_up_bookings_are_left_alone(site_tree):
    guest, property = UserFactory(), make_property()
    old = _book(guest, property, days_ahead=20)
    Booking.objects.filter(pk=old.pk).update(booking_date=timezone.now() - services.FOLLOW_UP_LOOKBACK - dt.timedelta(minutes=1))
    done = _book(guest, property, days_ahead=40)
    Booking.objects.filter(pk=done.pk).update(created_followed_up_at=timezone.now())

    assert services.bookings_follow_up_created() == 0
    assert _created_entries(old) == [] and _created_entries(done) == []


def test_more_bookings_than_a_batch_are_all_followed_up(site_tree, monkeypatch):
    monkeypatch.setattr(services, "FOLLOW_UP_BATCH", 2)
    guest, property = UserFactory(), make_property()
    bookings = [_book(guest, property, days_ahead=20 + 3 * n) for n in range(5)]

    assert services.bookings_follow_up_created() == 5
    assert all(len(_created_entries(booking)) == 1 for booking in bookings)


def test_the_follow_up_runs_every_minute():
    schedule = Schedule.objects.get(name="bookings_follow_up_created")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "reservations.tasks.bookings_follow_up_created", Schedule.MINUTES, 1, -1,
    )


@pytest.mark.django_db(transaction=True)
def test_workers_running_it_at_once_follow_each_booking_up_once(site_tree):
    guest, property = UserFactory(), make_property()
    bookings = [_book(guest, property, days_ahead=20 + 3 * n) for n in range(12)]

    results = run_together([services.bookings_follow_up_created for _ in range(4)])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 12
    assert all(len(_created_entries(booking)) == 1 for booking in bookings)
