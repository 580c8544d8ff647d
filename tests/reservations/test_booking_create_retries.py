"""booking_create restarts its transaction when PostgreSQL aborts the insert as a deadlock.

Two inserts for overlapping nights that are both in flight wait on each other (the
exclusion constraint checks rows not yet committed), and PostgreSQL ends the wait by
aborting one with "deadlock detected". That insert is retried in a new transaction, which
sees how the other ended: 409 dates_unavailable if it committed, the booking if it did not.
The real race is in test_races.py (test_a_freed_stay_is_rebooked_by_exactly_one_of_many);
here the error is made to happen, on either database.
"""

import pytest
from django.db import OperationalError

from core.exceptions import ApplicationError
from reservations.models import Booking
from reservations.services import booking_create
from tests.factories import UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


class _DriverDeadlock(Exception):
    """What psycopg2 raises for SQLSTATE 40P01 (its pgcode is the server's, so not settable)."""

    pgcode = "40P01"


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _DriverDeadlock("deadlock detected")
    return error


@pytest.fixture
def deadlocks(monkeypatch):
    """Make the next `count` booking inserts fail as deadlocks; then insert normally."""
    real_save = Booking.save
    left = {"count": 0}

    def save(self, *args, **kwargs):
        if left["count"]:
            left["count"] -= 1
            raise _deadlock()
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Booking, "save", save)

    def arm(count: int):
        left["count"] = count

    return arm


def _book(user, property):
    return booking_create(
        user=user, property_id=property.pk, check_in=future_date(10), check_out=future_date(12), guests=[]
    )


def test_a_deadlocked_insert_is_retried_and_books(site_tree, deadlocks):
    property = make_property()
    deadlocks(1)

    booking = _book(UserFactory(), property)

    assert Booking.objects.get().pk == booking.pk
    assert booking.guest_rows[0].is_primary


def test_a_deadlocked_insert_whose_rival_committed_is_409(site_tree, deadlocks):
    property = make_property()
    rival = make_booking(property=property, check_in=future_date(11), nights=2)  # the insert that won
    deadlocks(1)

    with pytest.raises(ApplicationError) as raised:
        _book(UserFactory(), property)

    assert (raised.value.code, raised.value.status) == ("dates_unavailable", 409)
    assert list(Booking.objects.values_list("pk", flat=True)) == [rival.pk]


def test_inserts_that_keep_deadlocking_end_as_409_not_500(site_tree, deadlocks):
    property = make_property()
    deadlocks(100)

    with pytest.raises(ApplicationError) as raised:
        _book(UserFactory(), property)

    assert (raised.value.code, raised.value.status) == ("dates_unavailable", 409)
    assert not Booking.objects.exists()


def test_other_operational_errors_are_not_retried(site_tree, monkeypatch):
    property = make_property()
    calls = []

    def save(self, *args, **kwargs):
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Booking, "save", save)

    with pytest.raises(OperationalError):
        _book(UserFactory(), property)
    assert len(calls) == 1
